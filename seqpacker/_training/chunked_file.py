"""A binary file that Arrow's IPC writer writes in 64 KiB ``write`` calls.

Arrow writes each buffer of a record batch with one ``write`` call, tens of
MiB at a time, and Linux then fills the page cache with large folios. On a
VM whose host takes free 2 MiB blocks back (free page reporting), those
are fresh memory every time, while small folios also come from memory the
host still backs; smaller calls than 64 KiB begin to cost in system calls.
docs/training.md has the reasons, and docs/training-benchmarks.md both
speeds, measured beside the packing.
"""

from __future__ import annotations

#: Bytes per ``write`` call.
CHUNK = 1 << 16


class ChunkedFile:
    """A file opened for writing, written ``CHUNK`` bytes per call; a sink
    for ``pyarrow.ipc.new_stream``. Arrow hands body buffers over without
    copying them, and ``write`` releases the GIL, so several of these write
    at once from threads."""

    def __init__(self, path: str):
        self._file = open(path, "wb", buffering=0)

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            written = self._file.write(view[done:done + CHUNK])
            if not written:
                raise OSError(f"writing {self._file.name!r} made no progress")
            done += written
        return done

    def flush(self) -> None:
        pass  # unbuffered: every write has reached the file

    def close(self) -> None:
        self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed

    def writable(self) -> bool:
        return True

    def __enter__(self) -> ChunkedFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
