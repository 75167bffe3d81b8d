"""Strategy names: the built-in strategies and how a user-given name finds one.

Every strategy has an upper-case short name (``"OBFD"``), a CamelCase long
name (``"OptimizedBestFitDecreasing"``) and optional extra aliases. Lookup is
case-insensitive and also accepts the snake_case form of the long name and of
each alias (``"optimized_best_fit_decreasing"``).

The built-ins are registered here, in code, in the order of their C ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import _native


@dataclass(frozen=True)
class StrategyInfo:
    """One packing strategy and the names it answers to."""

    short: str  # upper-case short name, e.g. "OBFD"
    long: str  # CamelCase long name, e.g. "OptimizedBestFitDecreasing"
    aliases: tuple[str, ...]  # further accepted names, e.g. ("Harmonic",)
    c_id: int  # the sp_strategy id of the C library

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
_BY_NAME: dict[str, StrategyInfo] = {
    spelling.lower(): info for info in _BUILTINS for spelling in info.spellings()
}


def available_strategies() -> list[StrategyInfo]:
    """All strategies, in the order ``Packer.strategies()`` lists them."""
    return list(_BUILTINS)


def get_strategy(name: str) -> StrategyInfo:
    """The strategy called ``name`` (any accepted spelling, any case).

    Raises TypeError for a name that is not a string, and ValueError for an
    unknown one, listing the valid names and suggesting the closest.
    """
    if not isinstance(name, str):
        raise TypeError(f"strategy must be a str, not {type(name).__name__}")
    info = _BY_NAME.get(name.lower())
    if info is None:
        raise ValueError(_unknown_name_message(name))
    return info


def _unknown_name_message(name: str) -> str:
    import difflib  # only on this error path, to keep `import seqpacker` light

    spellings = {s.lower(): s for info in _BUILTINS for s in info.spellings()}
    close = difflib.get_close_matches(name.lower(), spellings, n=1, cutoff=0.5)
    hint = f" Did you mean {spellings[close[0]]!r}?" if close else ""
    valid = ", ".join(f"{info.short.lower()} ({info.long})" for info in _BUILTINS)
    return f"unknown strategy {name!r}.{hint} Valid strategies: {valid}"
