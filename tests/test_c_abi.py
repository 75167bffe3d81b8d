"""The C ABI as the installed package links it, called through cffi.

The C unit tests (csrc/tests) check the same paths on a meson build; these
make sure the library inside the wheel behaves the same: every error status
of sp_pack, error_index, and the helper functions.
"""

from __future__ import annotations

import pytest

from seqpacker._core._seqpacker_ffi import ffi, lib

INT64_MAX = 2**63 - 1
STATUS_CODES = [
    lib.SP_OK,
    lib.SP_ERR_NULL_POINTER,
    lib.SP_ERR_NEGATIVE_COUNT,
    lib.SP_ERR_INVALID_CAPACITY,
    lib.SP_ERR_LENGTH_NOT_POSITIVE,
    lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY,
    lib.SP_ERR_UNKNOWN_STRATEGY,
    lib.SP_ERR_INVALID_OPTION,
    lib.SP_ERR_OVERFLOW,
    lib.SP_ERR_OUT_OF_MEMORY,
    lib.SP_ERR_BUSY,
    lib.SP_ERR_BUFFER_TOO_SMALL,
    lib.SP_ERR_FINISHED,
    lib.SP_ERR_NOT_STREAMABLE,
    lib.SP_ERR_INVALID_STATE,
    lib.SP_ERR_OUT_OF_BOUNDS,
    lib.SP_ERR_INVALID_ELEMENT_SIZE,
    lib.SP_ERR_TOO_MANY_LENGTHS,
]


def status_text(status: int) -> str:
    return ffi.string(lib.sp_status_string(status)).decode()


class Call:
    """The buffers of one sp_pack call, sized by sp_pack_bound()."""

    def __init__(self, lengths, n=None):
        self.n = len(lengths) if n is None else n
        bound = ffi.new("int64_t *")
        assert lib.sp_pack_bound(max(self.n, 0), bound) == lib.SP_OK
        size = max(1, bound[0])
        self.lengths = ffi.new("int64_t[]", list(lengths) or [0])
        self.items = ffi.new("int64_t[]", size)
        self.offsets = ffi.new("int64_t[]", size + 1)
        self.used = ffi.new("int64_t[]", size)
        self.num_bins = ffi.new("int64_t *", -7)
        self.error_index = ffi.new("int64_t *", -7)

    def pack(self, capacity, strategy=lib.SP_OBFD, options=ffi.NULL, **null):
        """sp_pack; a keyword argument set to True passes NULL for that buffer."""
        args = dict(
            lengths=self.lengths, items=self.items, offsets=self.offsets,
            used=self.used, num_bins=self.num_bins, error_index=self.error_index,
        )
        for name in null:
            args[name] = ffi.NULL
        return lib.sp_pack(
            args["lengths"], self.n, capacity, strategy, options, args["items"],
            args["offsets"], args["used"], args["num_bins"], args["error_index"],
        )


def test_versions():
    version = ffi.string(lib.sp_version_string()).decode()
    major, minor, patch = (int(part) for part in version.split("."))
    assert lib.sp_version_number() == major * 10000 + minor * 100 + patch


def test_every_status_has_its_own_text():
    texts = [status_text(code) for code in STATUS_CODES]
    assert all(texts)
    assert len(set(texts)) == len(texts)
    unknown = status_text(-1)
    assert unknown and unknown not in texts
    assert status_text(max(STATUS_CODES) + 1) == unknown
    assert status_text(2**31 - 1) == unknown


def test_strategy_names():
    names = [lib.sp_strategy_name(i) for i in range(lib.SP_STRATEGY_COUNT)]
    assert all(name != ffi.NULL for name in names)
    assert [ffi.string(n).decode() for n in names] == [
        "nf", "ff", "bf", "wf", "ffd", "bfd", "ffs", "mffd", "obfd", "obfdp", "hk"
    ]
    assert lib.sp_strategy_name(-1) == ffi.NULL
    assert lib.sp_strategy_name(lib.SP_STRATEGY_COUNT) == ffi.NULL


def test_pack_bound():
    size = ffi.new("int64_t *", -7)
    assert lib.sp_pack_bound(0, size) == lib.SP_OK and size[0] == 0
    assert lib.sp_pack_bound(12345, size) == lib.SP_OK and size[0] == 12345
    assert lib.sp_pack_bound(-1, size) == lib.SP_ERR_NEGATIVE_COUNT and size[0] == 0
    assert lib.sp_pack_bound(1, ffi.NULL) == lib.SP_ERR_NULL_POINTER


@pytest.mark.parametrize("missing", ["lengths", "items", "offsets", "num_bins"])
def test_null_pointer(missing):
    call = Call([3, 4])
    assert call.pack(10, **{missing: True}) == lib.SP_ERR_NULL_POINTER


def test_optional_outputs_may_be_null():
    call = Call([3, 4, 9])
    assert call.pack(10, lib.SP_FF, used=True, error_index=True) == lib.SP_OK
    assert call.num_bins[0] == 2
    assert list(call.offsets[0:3]) == [0, 2, 3]
    assert list(call.items[0:3]) == [0, 1, 2]


def test_negative_count():
    assert Call([1], n=-1).pack(10) == lib.SP_ERR_NEGATIVE_COUNT


@pytest.mark.parametrize("capacity", [0, -1, -(2**63)])
def test_invalid_capacity(capacity):
    assert Call([1]).pack(capacity) == lib.SP_ERR_INVALID_CAPACITY


@pytest.mark.parametrize(
    "lengths, status, index",
    [
        ([5, 0, 2000, -1], lib.SP_ERR_LENGTH_NOT_POSITIVE, 1),
        ([5, 6, 1025, 0], lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY, 2),
        ([1, 2, 3, -(2**63)], lib.SP_ERR_LENGTH_NOT_POSITIVE, 3),
        ([INT64_MAX], lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY, 0),
    ],
)
def test_bad_length_reports_the_first_bad_index(lengths, status, index):
    for strategy in range(lib.SP_STRATEGY_COUNT):
        call = Call(lengths)
        assert call.pack(1024, strategy) == status
        assert call.error_index[0] == index


@pytest.mark.parametrize("strategy", [-1, lib.SP_STRATEGY_COUNT, 2**31 - 1])
def test_unknown_strategy(strategy):
    call = Call([3, 4])
    assert call.pack(10, strategy) == lib.SP_ERR_UNKNOWN_STRATEGY
    assert call.error_index[0] == -1


@pytest.mark.parametrize(
    "field, value",
    [("k", 1), ("k", 0), ("k", lib.SP_MAX_K + 1), ("threads", -1)],
)
def test_invalid_option(field, value):
    options = ffi.new("sp_options *")
    lib.sp_options_init(options)
    setattr(options, field, value)
    assert Call([3, 4]).pack(10, options=options) == lib.SP_ERR_INVALID_OPTION


def test_options_init_gives_the_defaults():
    options = ffi.new("sp_options *", {"seed": 99, "k": -5, "threads": -5})
    lib.sp_options_init(options)
    assert options.seed == lib.SP_DEFAULT_SEED
    assert options.k == lib.SP_DEFAULT_K
    assert options.threads == 0


def test_total_overflow():
    call = Call([INT64_MAX // 2 + 1, INT64_MAX // 2 + 1])
    assert call.pack(INT64_MAX) == lib.SP_ERR_OVERFLOW
    assert call.error_index[0] == -1
    exact = Call([INT64_MAX // 2, INT64_MAX // 2 + 1])
    assert exact.pack(INT64_MAX) == lib.SP_OK
    assert exact.num_bins[0] == 1
    assert exact.used[0] == INT64_MAX


def test_empty_input_gives_no_bins():
    for strategy in range(lib.SP_STRATEGY_COUNT):
        call = Call([])
        assert call.pack(1, strategy, lengths=True, items=True) == lib.SP_OK
        assert call.num_bins[0] == 0
        assert call.offsets[0] == 0
        assert call.error_index[0] == -1


def test_example_of_the_issue():
    call = Call([1000, 800, 600, 500, 400, 300, 200, 100])
    assert call.pack(1024, lib.SP_OBFD) == lib.SP_OK
    assert call.num_bins[0] == 4
    assert list(call.offsets[0:5]) == [0, 1, 3, 5, 8]
    assert list(call.items[0:8]) == [0, 1, 7, 2, 4, 3, 5, 6]
    assert list(call.used[0:4]) == [1000, 900, 1000, 1000]


# ---- sp_lengths_check: what sp_pack accepts ---------------------------------------------


@pytest.mark.parametrize(
    "lengths, capacity, status, index",
    [
        ([3, 4, 10], 10, lib.SP_OK, -1),
        ([], 10, lib.SP_OK, -1),
        ([3, 0, 11], 10, lib.SP_ERR_LENGTH_NOT_POSITIVE, 1),
        ([3, 11, 0], 10, lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY, 1),
        ([2**62, 2**62], 2**62, lib.SP_ERR_OVERFLOW, -1),
        ([1], 0, lib.SP_ERR_INVALID_CAPACITY, -1),
    ],
)
def test_lengths_check_agrees_with_pack(lengths, capacity, status, index):
    array = ffi.new("int64_t[]", lengths or [0])
    total, error_index = ffi.new("int64_t *", -7), ffi.new("int64_t *", -7)
    assert lib.sp_lengths_check(array, len(lengths), capacity, total, error_index) == status
    assert error_index[0] == index
    if status == lib.SP_OK:
        assert total[0] == sum(lengths)
    assert Call(lengths).pack(capacity) == status


def test_lengths_check_arguments():
    assert lib.sp_lengths_check(ffi.NULL, 1, 10, ffi.NULL, ffi.NULL) == lib.SP_ERR_NULL_POINTER
    assert lib.sp_lengths_check(ffi.NULL, -1, 10, ffi.NULL, ffi.NULL) == lib.SP_ERR_NEGATIVE_COUNT
    assert lib.sp_lengths_check(ffi.NULL, 0, 10, ffi.NULL, ffi.NULL) == lib.SP_OK


# ---- streams: info, buffers, statuses --------------------------------------------------


def new_stream(capacity, strategy=lib.SP_NF):
    out = ffi.new("sp_stream **")
    assert lib.sp_stream_create(capacity, strategy, ffi.NULL, out) == lib.SP_OK
    return ffi.gc(out[0], lib.sp_stream_free)


def stream_info(stream):
    info = ffi.new("sp_stream_info *")
    assert lib.sp_stream_get_info(stream, info) == lib.SP_OK
    return info


def test_stream_add_counts_unread_packs_and_info_follows():
    stream = new_stream(10)
    unread = ffi.new("int64_t *", -7)
    assert lib.sp_stream_add(stream, 6, unread) == lib.SP_OK and unread[0] == 0
    assert lib.sp_stream_add(stream, 6, unread) == lib.SP_OK and unread[0] == 1
    assert lib.sp_stream_add(stream, 11, unread) == lib.SP_ERR_LENGTH_EXCEEDS_CAPACITY
    assert lib.sp_stream_add(stream, 4, ffi.NULL) == lib.SP_OK  # 6 + 4: exactly full
    info = stream_info(stream)
    assert (info.capacity, info.strategy, info.k, info.sequences_added) == (10, lib.SP_NF, 10, 3)
    assert (info.open_bins, info.open_items, info.unread_packs, info.unread_items) == (0, 0, 2, 3)
    assert info.finished == 0
    out = ffi.new("sp_pack_buffers *")
    items, offsets = ffi.new("int64_t[3]"), ffi.new("int64_t[3]")
    out.items, out.items_size, out.bin_offsets, out.packs_size = items, 3, offsets, 1
    assert lib.sp_stream_read(stream, out) == lib.SP_ERR_BUFFER_TOO_SMALL
    assert out.num_packs == 0 and stream_info(stream).unread_packs == 2
    out.packs_size = 2
    assert lib.sp_stream_read(stream, out) == lib.SP_OK
    assert out.num_packs == 2 and list(items) == [0, 1, 2] and list(offsets) == [0, 1, 3]
    assert lib.sp_stream_finish(stream) == lib.SP_OK and stream_info(stream).finished == 1
    assert lib.sp_stream_add(stream, 1, unread) == lib.SP_ERR_FINISHED


def test_stream_calls_refuse_null():
    info = ffi.new("sp_stream_info *")
    out = ffi.new("sp_pack_buffers *")
    assert lib.sp_stream_get_info(ffi.NULL, info) == lib.SP_ERR_NULL_POINTER
    assert lib.sp_stream_get_info(new_stream(5), ffi.NULL) == lib.SP_ERR_NULL_POINTER
    assert lib.sp_stream_add(ffi.NULL, 1, ffi.NULL) == lib.SP_ERR_NULL_POINTER
    assert lib.sp_stream_read(ffi.NULL, out) == lib.SP_ERR_NULL_POINTER
    assert lib.sp_stream_read(new_stream(5), ffi.NULL) == lib.SP_ERR_NULL_POINTER


def test_too_many_lengths_for_one_call():
    """The count is checked before any length is read, so a one-element
    buffer stands for 2**31 - 1 lengths."""
    call = Call([1], n=lib.SP_MAX_LENGTHS + 1)
    assert call.pack(10) == lib.SP_ERR_TOO_MANY_LENGTHS
    assert lib.sp_lengths_check(call.lengths, lib.SP_MAX_LENGTHS + 1, 10, ffi.NULL,
                                ffi.NULL) == lib.SP_ERR_TOO_MANY_LENGTHS
