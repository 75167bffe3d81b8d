"""seqpacker._training.chunked_file: every byte reaches the file, in calls of at most
CHUNK bytes, through short writes; a write that makes no progress raises
instead of looping. The Arrow round trip needs pyarrow."""

import io

import numpy as np
import pytest

from seqpacker._training.chunked_file import CHUNK, ChunkedFile


class Recorder(io.RawIOBase):
    """A raw file that keeps what it is given, at most ``most`` bytes a call."""

    def __init__(self, most):
        self.most, self.calls, self.data, self.name = most, [], bytearray(), "recorder"

    def writable(self):
        return True

    def write(self, view):
        taken = bytes(view[:self.most])
        self.calls.append(len(view))
        self.data += taken
        return len(taken)


def sink_over(file):
    sink = ChunkedFile.__new__(ChunkedFile)
    sink._file = file
    return sink


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
def test_writes_every_byte_in_calls_of_at_most_chunk(tmp_path, size):
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8)
    path = tmp_path / "out.bin"
    with ChunkedFile(str(path)) as sink:
        assert sink.write(data) == size
        assert sink.write(b"tail") == 4
        assert not sink.closed
    assert sink.closed
    assert path.read_bytes() == data.tobytes() + b"tail"
    recorder = Recorder(most=CHUNK)
    assert sink_over(recorder).write(data) == size
    assert bytes(recorder.data) == data.tobytes()
    assert all(0 < call <= CHUNK for call in recorder.calls)
    assert len(recorder.calls) == -(-size // CHUNK)


def test_short_writes_are_resumed_where_they_stopped():
    data = bytes(range(256)) * 700  # 179,200 bytes: several chunks
    recorder = Recorder(most=1000)
    assert sink_over(recorder).write(memoryview(data)) == len(data)
    assert bytes(recorder.data) == data
    # Each call resumes right after the bytes the last one took.
    assert len(recorder.calls) == -(-len(data) // 1000)
    assert recorder.calls[-1] == len(data) % 1000


def test_a_write_that_makes_no_progress_raises():
    with pytest.raises(OSError, match="writing 'recorder' made no progress"):
        sink_over(Recorder(most=0)).write(b"abc")


def test_multibyte_views_are_written_as_their_bytes(tmp_path):
    values = np.arange(CHUNK, dtype=np.int32)  # 4 chunks of bytes
    path = tmp_path / "ints.bin"
    with ChunkedFile(str(path)) as sink:
        assert sink.write(memoryview(values)) == values.nbytes
    assert np.array_equal(np.fromfile(path, dtype=np.int32), values)


def test_arrow_streams_through_it_unchanged(tmp_path):
    from optional import optional_import
    pa = optional_import("pyarrow")
    column = pa.array(np.arange(3 * CHUNK, dtype=np.int64))  # a body buffer of 24 chunks
    batch = pa.RecordBatch.from_arrays([column, column.cast(pa.int16(), safe=False)],
                                       names=["a", "b"])
    path = tmp_path / "rows.arrow"
    with ChunkedFile(str(path)) as sink, pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
        writer.write_batch(batch.slice(5, 100))
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_stream(source).read_all()
    assert table.to_batches()[0].equals(batch)
    assert table.to_batches()[1].equals(batch.slice(5, 100))
