"""Generate the cffi API-mode C source of ``seqpacker._core._seqpacker_ffi``.

Run by meson at build time (not installed)::

    python build_ffi.py path/to/seqpacker.h path/to/output.c

The cdef is the plain-C region of the public header between the
``/* SP_CDEF_BEGIN */`` and ``/* SP_CDEF_END */`` markers, with the ``SP_API`` export
macro removed, so the binding can never drift from the header.
"""

import re
import sys

import cffi


def cdef_from_header(text: str) -> str:
    start = text.index("/* SP_CDEF_BEGIN */") + len("/* SP_CDEF_BEGIN */")
    end = text.index("/* SP_CDEF_END */")
    region = text[start:end]
    region = re.sub(r"\bSP_API\s+", "", region)
    return region


def main(header_path: str, output_path: str) -> None:
    with open(header_path, encoding="utf-8") as f:
        header = f.read()
    ffi = cffi.FFI()
    ffi.cdef(cdef_from_header(header))
    ffi.set_source("seqpacker._core._seqpacker_ffi", '#include "seqpacker.h"')
    ffi.emit_c_code(output_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
