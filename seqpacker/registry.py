"""Strategy names: the built-ins, the plugins, and how a user-given name finds one.

Every strategy has an upper-case short name (``"OBFD"``), a long name
(``"OptimizedBestFitDecreasing"``) and optional extra aliases. Lookup is
case-insensitive and also accepts the snake_case form of the long name and of
each alias (``"optimized_best_fit_decreasing"``).

The built-ins come from the C library's own table (``sp_strategy_describe``:
names, aliases, whether a stream takes them), in the order of their C ids.
Plugins come from the entry-point group ``seqpacker.strategies`` (read on
the first lookup that needs it, never at ``import seqpacker``; a plugin's
module is imported when its strategy is first asked for;
``SEQPACKER_DISABLE_PLUGINS=1`` turns this off) and from
``register_strategy``. A name answers to one strategy: built-ins first, then
entry points by distribution and entry-point name, the first one keeping it.

The strategy protocol (``PROTOCOL_VERSION`` 1). A strategy is called as::

    func(lengths, capacity, *, seed, k, threads, **options)

- ``lengths``: a read-only, C-contiguous, 1-D int64 NumPy array of n
  lengths, already checked: each in ``[1, capacity]``, their total fits int64.
- ``capacity``: a Python int >= 1.
- ``seed``, ``k``, ``threads``: the Packer's validated options (``threads``
  is ``None`` when the user gave none); ``**options``: the entries of
  ``Packer(..., options={...})``.

It returns ``(items, bin_offsets)``, two 1-D int64 NumPy arrays, the flat form
of the C core: ``items`` holds the n ids ``0 .. n-1``, each exactly once, bin
by bin; ``bin_offsets`` holds ``num_bins + 1`` strictly increasing entries,
``bin_offsets[0] == 0`` and ``bin_offsets[-1] == n``, so bin b is
``items[bin_offsets[b]:bin_offsets[b + 1]]`` (n == 0 gives ``[0]``). No bin is
empty and none holds more than ``capacity``. seqpacker checks all of this
(``_packing.plugin_call``), computes each bin's used space itself, and raises
``PluginError`` naming the plugin otherwise.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from ._core import native as _native

#: The version of the strategy protocol described above. A plugin declares
#: the version it was written for (the ``seqpacker_protocol`` attribute of
#: its function, default 1); a newer one than this is refused.
PROTOCOL_VERSION = 1

#: The entry-point group that third-party strategies register under.
ENTRY_POINT_GROUP = "seqpacker.strategies"

#: Set to 1 to turn off entry-point discovery (registered strategies stay).
DISABLE_VARIABLE = "SEQPACKER_DISABLE_PLUGINS"


class PluginError(RuntimeError):
    """A strategy plugin failed: it did not load, or returned an invalid packing.

    A RuntimeError, not a ValueError: the user's input is fine, the plugin is
    broken (so the CLI reports that strategy as failed and runs the others).
    """


@dataclass(frozen=True)
class StrategyInfo:
    """One packing strategy and the names it answers to.

    Built-ins have a ``c_id``; plugins have none, and an ``origin``
    (``"<distribution> <version>"`` for an entry point) and, once loaded, a
    ``func``.
    """

    short: str  # upper-case short name, e.g. "OBFD"
    long: str  # long name, e.g. "OptimizedBestFitDecreasing"
    aliases: tuple[str, ...] = ()  # further accepted names, e.g. ("Harmonic",)
    c_id: int | None = None  # the sp_strategy id of the C library; None for plugins
    streamable: bool = False  # whether StreamPacker takes it (the C library says)
    origin: str | None = None  # where a plugin comes from, e.g. "seqpacker-balanced 0.1.0"
    func: Callable[..., Any] | None = field(default=None, repr=False, compare=False)
    entry_point: Any = field(default=None, repr=False, compare=False)

    @property
    def plugin(self) -> bool:
        """True for a strategy that is not built into the C library."""
        return self.c_id is None

    def spellings(self) -> tuple[str, ...]:
        """Every accepted spelling, in the form shown to users."""
        names = [self.short.lower(), self.long, _snake_case(self.long)]
        for alias in self.aliases:
            names += [alias, _snake_case(alias)]
        return tuple(dict.fromkeys(names))  # de-duplicated, order kept


def _snake_case(camel: str) -> str:
    """``"OptimizedBestFitDecreasing"`` -> ``"optimized_best_fit_decreasing"``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def _lower_spellings(info: StrategyInfo) -> set[str]:
    return {spelling.lower() for spelling in info.spellings()}


_BUILTINS: tuple[StrategyInfo, ...] = tuple(
    StrategyInfo(row.name.upper(), row.long_name, row.aliases, row.id, row.streamable)
    for row in _native.STRATEGIES
)
# Lower-cased spelling -> built-in, for the case-insensitive lookup.
_BUILTIN_BY_NAME = {name: info for info in _BUILTINS for name in _lower_spellings(info)}

# Plugin state, guarded by _lock. _discovered is None until the entry points
# are first read; a loaded plugin replaces its entry (with its func).
_lock = threading.RLock()
_discovered: list[StrategyInfo] | None = None
_registered: list[StrategyInfo] = []


def available_strategies() -> list[StrategyInfo]:
    """All strategies: the built-ins in C id order, then the entry-point
    plugins (by distribution, then name), then the ones registered in
    process (in registration order). Imports no plugin."""
    return list(_BUILTINS) + _plugins()


def get_strategy(name: str) -> StrategyInfo:
    """The strategy called ``name`` (any accepted spelling, any case).

    A plugin is imported here, on its first lookup, so the returned info has
    its ``func``. Raises TypeError for a name that is not a string,
    ValueError for an unknown one (listing the valid names and suggesting the
    closest), and PluginError for a plugin that fails to load.
    """
    if not isinstance(name, str):
        raise TypeError(f"strategy must be a str, not {type(name).__name__}")
    info = _BUILTIN_BY_NAME.get(name.lower())
    if info is not None:
        return info
    with _lock:
        for plugin in _plugins():
            if name.lower() in _lower_spellings(plugin):
                return _load(plugin)
    raise ValueError(_unknown_name_message(name))


def register_strategy(name: str, func: Callable[..., Any], *,
                      long_name: str | None = None) -> StrategyInfo:
    """Register ``func`` as the strategy ``name`` in this process and return its info.

    ``func`` follows the protocol in this module's docstring (and declares a
    newer one through its ``seqpacker_protocol`` attribute). ``long_name``
    (default ``name``) is one more accepted spelling. A built-in's name is
    refused (ValueError); a plugin that answers to one of the names is
    replaced, so registering again (a re-run notebook cell) is harmless.
    """
    for value in (name, long_name if long_name is not None else name):
        if not isinstance(value, str) or not value:
            raise TypeError(f"a strategy name must be a non-empty str, not {value!r}")
    if not callable(func):
        raise TypeError(f"strategy {name!r}: func must be callable, not {type(func).__name__}")
    _check_protocol(func, f"strategy {name!r}", ValueError)
    long = long_name or name
    info = StrategyInfo(name.upper(), long, (name,) if long != name else (),
                        origin=f"registered by {getattr(func, '__module__', None) or '?'}",
                        func=func)
    taken = next((s for s in info.spellings() if s.lower() in _BUILTIN_BY_NAME), None)
    if taken is not None:
        raise ValueError(f"cannot register strategy {name!r}: {taken!r} is the name of a "
                         f"built-in strategy")
    with _lock:
        _plugins()  # discover first, so that this one replaces an entry point of its name
        for table in (_discovered, _registered):
            table[:] = [p for p in table if not _lower_spellings(p) & _lower_spellings(info)]
        _registered.append(info)
    return info


def _plugins() -> list[StrategyInfo]:
    """The discovered plugins, then the registered ones (discovering once)."""
    global _discovered
    with _lock:
        if _discovered is None:
            _discovered = _discover()
        return _discovered + _registered


def _discover() -> list[StrategyInfo]:
    """The entry points of the group, without importing any: of those that
    answer to one name (a built-in's, or one another plugin took before in
    the order of distribution and entry-point name) only the first counts."""
    if os.environ.get(DISABLE_VARIABLE, "").strip().lower() not in ("", "0", "false", "no"):
        return []
    from ._packing import entry_points  # here, not at import: `import seqpacker` stays light

    found = [(dist or "an unknown distribution", version or "(unknown version)", ep)
             for dist, version, ep in entry_points.find(ENTRY_POINT_GROUP)]
    found.sort(key=lambda row: (row[0].lower(), row[2].name))
    taken = set(_BUILTIN_BY_NAME)
    kept = []
    for dist, version, ep in found:
        info = StrategyInfo(ep.name.upper(), ep.name, origin=f"{dist} {version}", entry_point=ep)
        if not _lower_spellings(info) & taken:
            taken |= _lower_spellings(info)
            kept.append(info)
    return kept


def _load(info: StrategyInfo) -> StrategyInfo:
    """``info`` with its function, importing an entry point on first use."""
    if info.func is not None:
        return info
    ep = info.entry_point
    where = (f"strategy plugin {info.long!r} (entry point {ep.name} = {ep.value} in group "
             f"{ENTRY_POINT_GROUP!r}, from {info.origin})")
    try:
        func = ep.load()
    except Exception as error:
        raise PluginError(
            f"{where} failed to load: {type(error).__name__}: {error}. Reinstall or upgrade it "
            f"(pip install --upgrade {info.origin.rsplit(' ', 1)[0]}) or uninstall it; other "
            f"strategies still work, and {DISABLE_VARIABLE}=1 turns all plugins off."
        ) from error
    if not callable(func):
        raise PluginError(f"{where} is not callable: it loaded a {type(func).__name__}")
    _check_protocol(func, where, PluginError)
    loaded = replace(info, func=func)
    _discovered[_discovered.index(info)] = loaded  # the next lookup imports nothing
    return loaded


def _check_protocol(func, where: str, error: type[Exception]) -> None:
    version = getattr(func, "seqpacker_protocol", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise error(f"{where}: protocol version must be an int >= 1, got {version!r}")
    if version > PROTOCOL_VERSION:
        raise error(f"{where} needs strategy protocol {version}, but this seqpacker speaks "
                    f"protocol {PROTOCOL_VERSION}: upgrade seqpacker")


def _unknown_name_message(name: str) -> str:
    import difflib  # only on this error path, to keep `import seqpacker` light

    plugins = _plugins()
    spellings = {s.lower(): s for info in (*_BUILTINS, *plugins) for s in info.spellings()}
    close = difflib.get_close_matches(name.lower(), spellings, n=1, cutoff=0.5)
    hint = f" Did you mean {spellings[close[0]]!r}?" if close else ""
    valid = ", ".join(f"{info.short.lower()} ({info.long})" for info in _BUILTINS)
    message = f"unknown strategy {name!r}.{hint} Valid strategies: {valid}"
    if plugins:  # "mine (MyStrategy, seqpacker-mine 1.0)": the long name when it differs
        message += ". Plugins: " + ", ".join(
            f"{p.short.lower()} ({'' if p.long.lower() == p.short.lower() else p.long + ', '}"
            f"{p.origin})" for p in plugins)
    return message
