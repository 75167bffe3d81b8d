"""Strategy names: the built-ins, the plugins, and how a user-given name finds one.

Every strategy has an upper-case short name (``"OBFD"``), a long name
(``"OptimizedBestFitDecreasing"``) and optional extra aliases. Lookup is
case-insensitive and also accepts the snake_case form of the long name and of
each alias (``"optimized_best_fit_decreasing"``).

The eleven built-ins are registered here, in code, in the order of their C
ids; they are never loaded through entry points.

Plugins come from two places:

- the entry-point group ``seqpacker.strategies``: each entry point's name is
  the strategy name and its value the strategy function. The group is read
  on the first lookup (never at ``import seqpacker``) and cached;
  ``refresh_plugins()`` reads it again. A plugin's module is imported only
  when that strategy is asked for. ``SEQPACKER_DISABLE_PLUGINS=1`` turns
  discovery off.
- ``register_strategy(name, func)``, in process.

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
(see ``_plugin_call``), computes each bin's used space itself, and raises
``PluginError`` naming the plugin otherwise.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
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

# Plugin names must be usable as identifiers (and as one CLI table word).
_VALID_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
# Words that a plugin may not take: the CLI's keyword for every strategy.
_RESERVED = frozenset({"all"})


class PluginError(RuntimeError):
    """A strategy plugin failed: it did not load, or returned an invalid packing.

    A RuntimeError, not a ValueError: the user's input is fine, the plugin is
    broken (so the CLI reports that strategy as failed and runs the others).
    """


class PluginWarning(UserWarning):
    """A strategy plugin was refused: a bad or taken name."""


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


def _builtin(short: str, long: str, *aliases: str) -> StrategyInfo:
    return StrategyInfo(short, long, aliases, _native.STRATEGY_IDS[short.lower()])


_BUILTINS: tuple[StrategyInfo, ...] = (
    _builtin("NF", "NextFit"),
    _builtin("FF", "FirstFit"),
    _builtin("BF", "BestFit"),
    _builtin("WF", "WorstFit"),
    _builtin("FFD", "FirstFitDecreasing"),
    _builtin("BFD", "BestFitDecreasing"),
    _builtin("FFS", "FirstFitShuffle"),
    _builtin("MFFD", "ModifiedFirstFitDecreasing"),
    _builtin("OBFD", "OptimizedBestFitDecreasing"),
    _builtin("OBFDP", "ParallelOptimizedBestFitDecreasing"),
    _builtin("HK", "HarmonicK", "Harmonic"),
)

# Lower-cased spelling -> strategy, for the case-insensitive lookup.
_BUILTIN_BY_NAME: dict[str, StrategyInfo] = {
    spelling.lower(): info for info in _BUILTINS for spelling in info.spellings()
}

# Plugin state, guarded by _lock. _discovered is None until the entry points
# are first read; loaded plugins replace their entry in place (func set).
_lock = threading.RLock()
_discovered: list[StrategyInfo] | None = None
_registered: list[StrategyInfo] = []


# ---- public functions ---------------------------------------------------------


def available_strategies() -> list[StrategyInfo]:
    """All strategies: the built-ins in C id order, then the entry-point
    plugins (sorted by distribution, then name), then the ones registered in
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


def register_strategy(name: str, func: Callable[..., Any], *, long_name: str | None = None,
                      protocol_version: int = 1, replace_existing: bool = False) -> StrategyInfo:
    """Register ``func`` as the strategy ``name``, in this process.

    ``func`` follows the protocol in this module's docstring.
    ``long_name`` (default ``name``) is one more accepted spelling. A name
    that a built-in answers to is refused (ValueError); a name that a plugin
    already holds is refused unless ``replace_existing=True``, which takes it
    over. Returns the new strategy's info.
    """
    _check_name(name)
    long = name if long_name is None else long_name
    _check_name(long)
    if not callable(func):
        raise TypeError(f"strategy {name!r}: func must be callable, not {type(func).__name__}")
    _check_protocol(protocol_version, f"strategy {name!r}", ValueError)
    module = getattr(func, "__module__", None) or "?"
    info = StrategyInfo(name.upper(), long, (name,) if long != name else (), None,
                        f"registered by {module}", func)
    taken_builtin = _builtin_clash(info)
    if taken_builtin is not None:
        raise ValueError(f"cannot register strategy {name!r}: {taken_builtin!r} is the name "
                         f"of a built-in strategy")
    with _lock:
        holders = [p for p in _plugins() if _lower_spellings(p) & _lower_spellings(info)]
        if holders and not replace_existing:
            raise ValueError(f"cannot register strategy {name!r}: the name is taken by "
                             f"{_describe(holders[0])}; pass replace_existing=True to take it over")
        for holder in holders:
            _remove(holder)
        _registered.append(info)
    return info


def unregister_strategy(name: str) -> None:
    """Remove a plugin strategy (registered or discovered) from this process.

    Built-ins cannot be removed (ValueError); an unknown name is a ValueError.
    """
    if not isinstance(name, str):
        raise TypeError(f"strategy must be a str, not {type(name).__name__}")
    if name.lower() in _BUILTIN_BY_NAME:
        raise ValueError(f"cannot unregister {name!r}: it is a built-in strategy")
    with _lock:
        for plugin in _plugins():
            if name.lower() in _lower_spellings(plugin):
                _remove(plugin)
                return
    raise ValueError(_unknown_name_message(name))


def refresh_plugins() -> None:
    """Forget the discovered entry points, so the next lookup reads them
    again (after installing a plugin into a running process, say). Strategies
    registered with ``register_strategy`` stay."""
    global _discovered
    with _lock:
        _discovered = None


def pack_builtin(lengths, capacity: int, strategy: str = "obfd", *, seed: int | None = None,
                 k: int | None = None, threads: int | None = None):
    """Pack with a built-in strategy; for plugins that build on the C core.

    Returns ``(items, bin_offsets)`` in the protocol's form (``num_bins + 1``
    offsets), so a plugin can return it directly or rearrange it.
    """
    from ._core.validation import as_lengths, check_capacity, check_k, check_seed, check_threads

    info = get_strategy(strategy)
    if info.plugin:
        raise ValueError(f"pack_builtin: {strategy!r} is a plugin, not a built-in strategy")
    capacity = check_capacity(capacity)
    options = _native.options(check_seed(seed), check_k(k), check_threads(threads))
    items, offsets, _used = _native.pack(as_lengths(lengths), capacity, info.c_id, options)
    return items, offsets


# ---- discovery and loading ------------------------------------------------------


def _plugins() -> list[StrategyInfo]:
    """The discovered plugins, then the registered ones (discovering once)."""
    global _discovered
    with _lock:
        if _discovered is None:
            _discovered = _discover()
        return _discovered + _registered


def _plugins_disabled() -> bool:
    return os.environ.get(DISABLE_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def _discover() -> list[StrategyInfo]:
    """Read the entry-point group, without importing any plugin."""
    if _plugins_disabled():
        return []
    from ._packing import entry_points as _entry_points  # here, not at import: `import seqpacker` stays light

    found = []
    for dist_name, version, entry_point in _entry_points.find(ENTRY_POINT_GROUP):
        dist_name = dist_name or "an unknown distribution"
        version = version or "(unknown version)"
        found.append((dist_name.lower(), entry_point.name, f"{dist_name} {version}", entry_point))
    # A documented, deterministic order: by distribution, then entry-point name.
    found.sort(key=lambda row: (row[0], row[1]))

    kept: list[StrategyInfo] = []
    for _key, name, origin, entry_point in found:
        if not isinstance(name, str) or not _VALID_NAME.match(name) or name.lower() in _RESERVED:
            _warn(f"strategy plugin {name!r} from {origin} is ignored: a strategy name must be "
                  f"a letter then letters, digits or '_', and not 'all'")
            continue
        info = StrategyInfo(name.upper(), name, (), None, origin, None, entry_point)
        taken_builtin = _builtin_clash(info)
        if taken_builtin is not None:
            _warn(f"strategy plugin {name!r} from {origin} is ignored: {taken_builtin!r} is a "
                  f"built-in strategy name, which plugins may not shadow")
            continue
        holder = next((k for k in kept if _lower_spellings(k) & _lower_spellings(info)), None)
        if holder is not None:
            _warn(f"strategy plugin {name!r} from {origin} is ignored: the name is already taken "
                  f"by {_describe(holder)} (plugins are taken in order of distribution name, "
                  f"then entry-point name; the first one is kept)")
            continue
        kept.append(info)
    return kept


def _load(info: StrategyInfo) -> StrategyInfo:
    """``info`` with its function, importing an entry point on first use."""
    if info.func is not None:
        return info
    entry_point = info.entry_point
    where = (f"strategy plugin {info.long!r} (entry point {entry_point.name} = "
             f"{entry_point.value} in group {ENTRY_POINT_GROUP!r}, from {info.origin})")
    dist_name = info.origin.rsplit(" ", 1)[0]
    try:
        func = entry_point.load()
    except Exception as error:
        raise PluginError(
            f"{where} failed to load: {type(error).__name__}: {error}. Reinstall or upgrade it "
            f"(pip install --upgrade {dist_name}) or uninstall it; other strategies still work, "
            f"and {DISABLE_VARIABLE}=1 turns all plugins off."
        ) from error
    if not callable(func):
        raise PluginError(f"{where} is not callable: it loaded a {type(func).__name__}")
    _check_protocol(getattr(func, "seqpacker_protocol", 1), where, PluginError)
    loaded = replace(info, func=func)
    index = next((i for i, p in enumerate(_discovered or []) if p is info), None)
    if index is not None:  # keep it: the next lookup needs no import
        _discovered[index] = loaded
    return loaded


# ---- helpers --------------------------------------------------------------------


def _check_name(name) -> None:
    if not isinstance(name, str):
        raise TypeError(f"a strategy name must be a str, not {type(name).__name__}")
    if not _VALID_NAME.match(name) or name.lower() in _RESERVED:
        raise ValueError(f"invalid strategy name {name!r}: use a letter then letters, digits "
                         f"or '_' (and not 'all')")


def _check_protocol(version, where: str, error: type[Exception]) -> None:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise error(f"{where}: protocol version must be an int >= 1, got {version!r}")
    if version > PROTOCOL_VERSION:
        raise error(f"{where} needs strategy protocol {version}, but this seqpacker speaks "
                    f"protocol {PROTOCOL_VERSION}: upgrade seqpacker")


def _lower_spellings(info: StrategyInfo) -> set[str]:
    return {spelling.lower() for spelling in info.spellings()}


def _builtin_clash(info: StrategyInfo) -> str | None:
    """The first spelling of ``info`` that a built-in answers to, if any."""
    return next((s for s in info.spellings() if s.lower() in _BUILTIN_BY_NAME), None)


def _remove(info: StrategyInfo) -> None:
    for table in (_discovered or [], _registered):
        table[:] = [p for p in table if p.short != info.short]


def _source(info: StrategyInfo) -> str:
    """``"MyBalanced, seqpacker-mine 1.0"``: the long name when it differs, and the origin."""
    return info.origin if info.long.lower() == info.short.lower() else f"{info.long}, {info.origin}"


def _describe(info: StrategyInfo) -> str:
    return f"plugin {info.long!r} from {info.origin}"


def _warn(message: str) -> None:
    warnings.warn(message, PluginWarning, stacklevel=4)


def _unknown_name_message(name: str) -> str:
    import difflib  # only on this error path, to keep `import seqpacker` light

    plugins = _plugins()
    spellings = {s.lower(): s for info in (*_BUILTINS, *plugins) for s in info.spellings()}
    close = difflib.get_close_matches(name.lower(), spellings, n=1, cutoff=0.5)
    hint = f" Did you mean {spellings[close[0]]!r}?" if close else ""
    valid = ", ".join(f"{info.short.lower()} ({info.long})" for info in _BUILTINS)
    message = f"unknown strategy {name!r}.{hint} Valid strategies: {valid}"
    if plugins:
        message += ". Plugins: " + ", ".join(f"{p.short.lower()} ({_source(p)})" for p in plugins)
    return message
