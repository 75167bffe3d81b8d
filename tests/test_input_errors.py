"""Every bad input gives a clear TypeError or ValueError, never a crash.

Messages must name the offending index (where there is one), the value and
the limit, so each test checks the message, not only the exception type.
"""

import numpy as np
import pytest

from seqpacker import Packer, StreamPacker, pack_sequences

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def error_message(exc_type, *args, **kwargs):
    with pytest.raises(exc_type) as info:
        pack_sequences(*args, **kwargs)
    return str(info.value)


def flat_error_message(exc_type, lengths, capacity=100):
    with pytest.raises(exc_type) as info:
        Packer(capacity).pack_flat(lengths)
    return str(info.value)


# -- lengths out of range (checked by the C library, reported by Python) -------

@pytest.mark.parametrize("bad", [0, -1, -(2**40), INT64_MIN])
@pytest.mark.parametrize("container", [list, np.array])
def test_length_not_positive(bad, container):
    message = error_message(ValueError, container([5, 7, bad, 3]), capacity=100)
    assert "lengths[2]" in message and str(bad) in message and ">= 1" in message


@pytest.mark.parametrize("container", [list, tuple, np.array])
def test_length_exceeds_capacity(container):
    message = error_message(ValueError, container([5, 7, 3, 101]), capacity=100)
    assert "lengths[3]" in message and "101" in message and "capacity 100" in message


@pytest.mark.parametrize("strategy", [s for s, _ in Packer.strategies()])
def test_first_bad_length_is_reported_for_every_strategy(strategy):
    lengths = [1, 2, 3, 500, 4, 0]
    with pytest.raises(ValueError, match=r"lengths\[3\] = 500 exceeds capacity 100"):
        Packer(100, strategy).pack(lengths)
    with pytest.raises(ValueError, match=r"lengths\[3\] = 500 exceeds capacity 100"):
        Packer(100, strategy).pack_flat(lengths)


# -- values that do not fit int64 ----------------------------------------------

@pytest.mark.parametrize("bad", [2**63, 2**64 + 5, INT64_MIN - 1, -(10**30)])
def test_python_int_beyond_int64(bad):
    message = error_message(ValueError, [1, 2, 3, bad], capacity=100)
    assert "lengths[3]" in message and str(bad) in message
    assert str(INT64_MAX) in message and "int64" in message


def test_numpy_scalar_beyond_int64_in_a_list():
    message = error_message(ValueError, [np.int64(1), np.uint64(2**63 + 1)], capacity=100)
    assert "lengths[1]" in message and str(2**63 + 1) in message and str(INT64_MAX) in message


def test_uint64_array_beyond_int64():
    lengths = np.array([1, 2, 2**64 - 1, 2**63], dtype=np.uint64)
    message = error_message(ValueError, lengths, capacity=100)
    assert "lengths[2]" in message and str(2**64 - 1) in message and str(INT64_MAX) in message
    # non-contiguous too
    message = flat_error_message(ValueError, np.repeat(lengths, 2)[::2])
    assert "lengths[2]" in message


def test_range_beyond_int64():
    message = error_message(ValueError, range(INT64_MAX - 1, INT64_MAX + 2), capacity=100)
    assert "lengths[2]" in message and str(INT64_MAX + 1) in message


def test_total_beyond_int64():
    message = error_message(ValueError, [2**62, 2**62, 2**62], capacity=INT64_MAX)
    assert "int64" in message and str(INT64_MAX) in message


# -- wrong element types -------------------------------------------------------

@pytest.mark.parametrize(
    "bad, type_name",
    [(3.0, "float"), (2.5, "float"), (True, "bool"), (False, "bool"), ("7", "str"),
     (None, "NoneType"), (np.float32(4), "float32"), (np.bool_(True), "bool"),
     ([1, 2], "list")],
)
def test_bad_element_types_name_the_index(bad, type_name):
    message = error_message(TypeError, [10, 20, 30, 40, bad, 50], capacity=100)
    assert "lengths[4]" in message and type_name in message and repr(bad) in message


def test_bool_hidden_among_ints_is_caught():
    # np.array([True, 2]) silently becomes int64; seqpacker must not.
    message = error_message(TypeError, [5, True, 2], capacity=100)
    assert "lengths[1]" in message and "bool" in message


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.complex128])
def test_float_arrays(dtype):
    message = error_message(TypeError, np.array([3, 4, 5], dtype=dtype), capacity=100)
    assert "dtype" in message and np.dtype(dtype).name in message and "lengths[0]" in message


def test_bool_array():
    message = error_message(TypeError, np.array([True, False, True]), capacity=100)
    assert "bool" in message


@pytest.mark.parametrize("array", [np.array(["1", "2"]), np.array([b"1"]),
                                   np.array([1, 2], dtype="datetime64[s]")])
def test_other_non_integer_arrays(array):
    message = error_message(TypeError, array, capacity=100)
    assert "dtype" in message and "integers" in message


def test_object_array_with_a_float():
    message = error_message(TypeError, np.array([1, 2, 3.0], dtype=object), capacity=100)
    assert "lengths[2]" in message and "float" in message


# -- wrong container -----------------------------------------------------------

@pytest.mark.parametrize("bad", [None, "1234", b"12", bytearray(b"12"), 12, 3.5,
                                 {1, 2}, {1: 2}, iter([1, 2])])
def test_not_a_sequence(bad):
    message = error_message(TypeError, bad, capacity=100)
    assert type(bad).__name__ in message


@pytest.mark.parametrize("shape", [(), (2, 3), (1, 1, 1)])
def test_arrays_that_are_not_1d(shape):
    message = error_message(TypeError, np.ones(shape, dtype=np.int64), capacity=100)
    assert "1-D" in message and str(shape) in message


def test_nested_lists():
    message = error_message(TypeError, [[1, 2], [3, 4]], capacity=100)
    assert "lengths[0]" in message and "list" in message


# -- capacity ------------------------------------------------------------------

@pytest.mark.parametrize("bad", [0, -1, -(2**70), 2**63, 2**100])
def test_capacity_out_of_range(bad):
    with pytest.raises(ValueError) as info:
        Packer(bad)
    message = str(info.value)
    assert "capacity" in message and str(bad) in message
    assert ">= 1" in message and str(INT64_MAX) in message


@pytest.mark.parametrize("bad", [1024.0, True, "1024", None, np.float64(8)])
def test_capacity_wrong_type(bad):
    with pytest.raises(TypeError, match="capacity must be an int"):
        Packer(bad)
    with pytest.raises(TypeError, match="capacity must be an int"):
        pack_sequences([1, 2], bad)


def test_numpy_integer_capacity_is_accepted():
    assert Packer(np.int32(100)).capacity == 100
    assert type(Packer(np.uint64(100)).capacity) is int


# -- strategy names ------------------------------------------------------------

@pytest.mark.parametrize(
    "typo, suggestion",
    [("obdf", "'obfd'"), ("OptimizedBestFit", "'OptimizedBestFitDecreasing'"),
     ("first_fit_decrease", "'first_fit_decreasing'"), ("harmonik", "'HarmonicK'")],
)
def test_unknown_strategy_suggests_the_closest(typo, suggestion):
    with pytest.raises(ValueError) as info:
        Packer(100, typo)
    message = str(info.value)
    assert repr(typo) in message and f"Did you mean {suggestion}?" in message
    for short in ("nf", "ff", "bf", "wf", "ffd", "bfd", "ffs", "mffd", "obfd", "obfdp", "hk"):
        assert f"{short} (" in message


def test_unknown_strategy_without_a_close_match():
    with pytest.raises(ValueError) as info:
        pack_sequences([1], 10, strategy="zzzzzzzz")
    assert "Did you mean" not in str(info.value) and "Valid strategies" in str(info.value)


@pytest.mark.parametrize("bad", [None, 8, b"obfd"])
def test_strategy_wrong_type(bad):
    with pytest.raises(TypeError, match="strategy must be a str"):
        Packer(100, bad)


# -- options -------------------------------------------------------------------

@pytest.mark.parametrize("bad", [-1, 2**64, -(2**64)])
def test_seed_out_of_range(bad):
    with pytest.raises(ValueError) as info:
        Packer(100, "ffs", seed=bad)
    assert str(bad) in str(info.value) and str(2**64 - 1) in str(info.value)


@pytest.mark.parametrize("bad", [1.0, True, "3"])
def test_seed_wrong_type(bad):
    with pytest.raises(TypeError, match="seed must be an int"):
        pack_sequences([1], 10, "ffs", seed=bad)


@pytest.mark.parametrize("bad", [1, 0, -5, 65537, 2**70])
def test_k_out_of_range(bad):
    with pytest.raises(ValueError) as info:
        Packer(100, "hk", k=bad)
    assert f"k = {bad}" in str(info.value) and ">= 2" in str(info.value) and "65536" in str(info.value)


@pytest.mark.parametrize("bad", [2.0, False, "10"])
def test_k_wrong_type(bad):
    with pytest.raises(TypeError, match="k must be an int"):
        Packer(100, "hk", k=bad)


@pytest.mark.parametrize("bad", [0, -1, 1025, 2000, 2**63])
def test_threads_out_of_range(bad):
    # Refused at construction, not at the first pack.
    with pytest.raises(ValueError, match=f"threads = {bad} is out of range: it must be >= 1 "
                                         "and <= 1024"):
        Packer(100, "obfdp", threads=bad)
    assert Packer(100, "obfdp", threads=1024).pack([50, 60]).num_bins == 2


@pytest.mark.parametrize("bad", [2.0, True])
def test_threads_wrong_type(bad):
    with pytest.raises(TypeError, match="threads must be an int"):
        Packer(100, "obfdp", threads=bad)


def test_a_failed_call_leaves_the_packer_usable():
    packer = Packer(100)
    with pytest.raises(ValueError):
        packer.pack([1, 200])
    with pytest.raises(TypeError):
        packer.pack([1.5])
    assert packer.pack([60, 50, 40]).bins == [[0, 2], [1]]


def test_a_masked_array_is_refused_not_unmasked():
    lengths = np.ma.array([3, 99, 4], mask=[False, True, False])
    with pytest.raises(TypeError, match="masked array"):
        Packer(10).pack(lengths)
    with pytest.raises(TypeError, match="masked array"):
        StreamPacker(10).add_many(lengths)


def test_an_unaligned_int64_view_is_copied_before_c_reads_it():
    raw = np.zeros(8 * 5 + 1, dtype=np.uint8)
    view = raw[1:].view(np.int64)
    view[:] = [3, 4, 9, 1, 2]
    assert not view.flags.aligned
    items, offsets = Packer(10, "nf").pack_flat(view)
    assert items.tolist() == [0, 1, 2, 3, 4] and offsets.tolist() == [2, 4]


@pytest.mark.parametrize("length", [np.array(5), np.array([5]), np.array([[5]])])
def test_stream_add_refuses_arrays_as_pack_does(length):
    with pytest.raises(TypeError, match=r"length must be an int, not ndarray"):
        StreamPacker(10).add(length)
    with pytest.raises(TypeError):
        Packer(10).pack([length])
