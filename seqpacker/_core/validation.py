"""Input coercion: user values in, checked values out, clear errors otherwise.

Lengths become one contiguous int64 NumPy array, converted at most once and
not at all when the input already is one. The C library then checks each
length against the capacity (and reports the index), so this module only
checks what C cannot see: types, dimensions and values that do not fit int64.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np

from . import native as _native

INT64_MIN = -(2**63)
INT64_MAX = _native.INT64_MAX
UINT64_MAX = _native.UINT64_MAX


def as_lengths(lengths) -> np.ndarray:
    """``lengths`` as a 1-D contiguous int64 array (the input itself if it is one)."""
    if isinstance(lengths, np.ndarray):
        return _array_as_lengths(lengths)
    if isinstance(lengths, (str, bytes, bytearray)) or lengths is None:
        raise TypeError(
            f"lengths must be a sequence of ints or an integer array, "
            f"not {type(lengths).__name__}"
        )
    if isinstance(lengths, range):
        return _range_as_lengths(lengths)
    if isinstance(lengths, Sequence):
        return _sequence_as_lengths(lengths)
    if hasattr(lengths, "__array__") or hasattr(lengths, "__array_interface__"):
        return _array_as_lengths(np.asarray(lengths))  # e.g. a CPU torch tensor
    raise TypeError(
        f"lengths must be a sequence of ints or an integer array, "
        f"not {type(lengths).__name__}"
    )


def _array_as_lengths(array: np.ndarray) -> np.ndarray:
    if isinstance(array, np.ma.MaskedArray):
        # Its mask would be ignored, packing the masked values too.
        raise TypeError("lengths must not be a masked array: fill it (.filled()) or drop "
                        "the masked values (.compressed()) first")
    if array.ndim != 1:
        raise TypeError(f"lengths must be 1-D, got an array of shape {array.shape}")
    kind = array.dtype.kind
    if kind == "O":  # an object array holds Python values: check them one by one
        return _sequence_as_lengths(array.tolist())
    if kind == "b":
        raise TypeError("lengths must be integers, got a bool array")
    if kind not in "iu":
        first = f" (lengths[0] = {array[0]!r})" if array.size else ""
        raise TypeError(f"lengths must be integers, got dtype {array.dtype}{first}")
    if kind == "u" and array.dtype.itemsize == 8 and array.size:
        too_big = np.flatnonzero(array > np.uint64(INT64_MAX))
        if too_big.size:
            index = int(too_big[0])
            raise ValueError(
                f"lengths[{index}] = {int(array[index])} does not fit int64 "
                f"(max {INT64_MAX})"
            )
    # Returns the array itself when it already is contiguous int64 and
    # aligned (C reads int64 values; an unaligned view is copied).
    array = np.ascontiguousarray(array, dtype=np.int64)
    return array if array.flags.aligned else array.copy()


def _range_as_lengths(r: range) -> np.ndarray:
    if len(r) == 0:
        return np.empty(0, dtype=np.int64)
    ends_fit = INT64_MIN <= min(r[0], r[-1]) and max(r[0], r[-1]) <= INT64_MAX
    if not ends_fit or not INT64_MIN <= r.step <= INT64_MAX:
        return _sequence_as_lengths(r)  # rare: names the first bad value
    # start + i * step without building Python ints. int64 arithmetic wraps
    # modulo 2**64, so the result is exact whenever every value fits int64,
    # which the check on both ends guarantees.
    values = np.arange(len(r), dtype=np.int64)
    values *= np.int64(r.step)
    values += np.int64(r.start)
    return values


def _sequence_as_lengths(seq: Sequence) -> np.ndarray:
    # One pass in C over the element types, instead of a Python loop: a list
    # of plain ints (the common case) goes straight to NumPy. NumPy alone is
    # not enough, as np.array([True, 2]) silently becomes int64.
    types = set(map(type, seq))
    if types <= {int}:
        try:
            return np.array(seq, dtype=np.int64)
        except OverflowError:
            _raise_for_out_of_range(seq)
    bad = next((t for t in types if not _is_integer_type(t)), None)
    if bad is not None:
        index = next(i for i, v in enumerate(seq) if type(v) is bad)
        raise TypeError(
            f"lengths[{index}] = {seq[index]!r} is a {bad.__name__}; "
            f"lengths must be ints"
        )
    # Integer types other than int (NumPy scalars, IntEnum): go through int().
    values = [operator.index(v) for v in seq]
    _raise_for_out_of_range(values)
    return np.array(values, dtype=np.int64)


def _is_integer_type(t: type) -> bool:
    """The one rule for the type of a length: an int or NumPy integer
    (subclasses too), not a bool."""
    return issubclass(t, (int, np.integer)) and not issubclass(t, (bool, np.bool_))


def as_length(length) -> int:
    """One length (``StreamPacker.add``) as a plain int, by the type rule
    of ``as_lengths``; TypeError for any other type."""
    if not _is_integer_type(type(length)):
        raise TypeError(f"length must be an int, not {type(length).__name__} ({length!r})")
    # add() in C takes exact ints only. Before Python 3.10 operator.index
    # returns an int subclass unchanged: int.__index__ makes a plain int.
    value = operator.index(length)
    return value if value.__class__ is int else int.__index__(value)


def _raise_for_out_of_range(values) -> None:
    for index, value in enumerate(values):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError(
                f"lengths[{index}] = {value} does not fit int64 "
                f"(limit {INT64_MIN} to {INT64_MAX})"
            )


def _check_int(name: str, value) -> int:
    """``value`` as a Python int; TypeError for bools, floats and the rest."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, not {type(value).__name__} ({value!r})")
    return int(value)


def check_capacity(capacity) -> int:
    """An int that fits int64, which the C library then accepts or not."""
    capacity = _check_int("capacity", capacity)
    if not INT64_MIN <= capacity <= INT64_MAX:
        raise ValueError(f"capacity = {capacity} is out of range: it must be >= 1 and <= {INT64_MAX}")
    _native.check_capacity(capacity)
    return capacity


def check_seed(seed) -> int:
    """``None`` means ``DEFAULT_SEED``; otherwise an int in [0, 2**64 - 1]
    (the range of the C field)."""
    if seed is None:
        return _native.DEFAULT_SEED
    seed = _check_int("seed", seed)
    if not 0 <= seed <= UINT64_MAX:
        raise ValueError(f"seed = {seed} is out of range: it must be >= 0 and <= {UINT64_MAX}")
    return seed


def check_k(k) -> int:
    """HarmonicK's number of classes: ``None`` means ``DEFAULT_K``; an int
    that fits the C field otherwise, whose range the C library checks
    (``_native.options``)."""
    if k is None:
        return _native.DEFAULT_K
    return _check_field("k", k)


def check_threads(threads) -> int:
    """Threads a call may use: ``None`` means one per online CPU."""
    return _check_none_as_zero("threads", threads)


def check_max_seqs(max_seqs_per_pack) -> int:
    """The most sequences a pack holds: ``None`` means no limit."""
    return _check_none_as_zero("max_seqs_per_pack", max_seqs_per_pack)


def _check_none_as_zero(name: str, value) -> int:
    """An option whose ``None`` is 0 on the C side (so 0 itself is
    refused); an int that fits the C field otherwise, whose range the C
    library checks (``_native.options``)."""
    if value is None:
        return 0
    value = _check_field(name, value)
    if value == 0:
        raise ValueError(f"{name} = 0 is out of range: {_native.option_limits(name)}")
    return value


def check_positive(name: str, value, alternative: str = "") -> int:
    """An int >= 1 (a count of ranks, steps or packs): TypeError for bools
    and non-ints, ValueError below 1; ``alternative`` ends the message."""
    value = _check_int(name, value)
    if value < 1:
        raise ValueError(f"{name} = {value} is out of range: it must be >= 1{alternative}")
    return value


def check_count(name: str, value) -> int:
    """An int >= 0: TypeError for bools and non-ints, ValueError below 0."""
    value = _check_int(name, value)
    if value < 0:
        raise ValueError(f"{name} = {value} is out of range: it must be >= 0")
    return value


def check_optional_count(name: str, value) -> int | None:
    """``None``, or an int >= 1 (a pack count or multiple)."""
    return None if value is None else check_positive(name, value, " (or None)")


def _check_field(name: str, value) -> int:
    """An int for an int64 field of ``sp_options``; a value C would check
    against a range it cannot even hold is out of range here."""
    value = _check_int(name, value)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{name} = {value} is out of range: "
                         f"{_native.option_limits(name)}")
    return value
