"""Where the C library inside this package is, for C and other languages.

    cc prog.c $(python -m seqpacker.config --cflags --libs)
    export PKG_CONFIG_PATH=$(python -m seqpacker.config --pkg-config-path)
    pkg-config --cflags --libs seqpacker

The wheel carries one copy of ``libseqpacker`` (the one the Python
extension modules use), its header ``seqpacker.h`` and a relocatable
pkg-config file. ``--libs`` adds an rpath, so that the program finds the
library where the package is installed; pkg-config's ``--libs`` does not.
The flags are shell-quoted where they need it (a path with a space), as
pkg-config's are.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ._core import native as _native

PACKAGE_DIR = Path(__file__).resolve().parent


def _existing(path: Path) -> str:
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: seqpacker.config needs a regular install of the "
            "package (pip install .), not an editable one")
    return str(path)


def get_include() -> str:
    """The folder that holds ``seqpacker.h``."""
    return _existing(PACKAGE_DIR / "include")


def get_lib_dir() -> str:
    """The folder that holds ``libseqpacker``."""
    _existing(PACKAGE_DIR / "include")  # an editable install has neither
    return str(PACKAGE_DIR / "_core")


def get_pkg_config_dir() -> str:
    """The folder that holds ``seqpacker.pc`` (for ``PKG_CONFIG_PATH``)."""
    folder = PACKAGE_DIR / "pkgconfig"
    _existing(folder / "seqpacker.pc")
    return str(folder)


def cflags() -> list[str]:
    return [f"-I{get_include()}"]


def libs() -> list[str]:
    lib_dir = get_lib_dir()
    return [f"-L{lib_dir}", "-lseqpacker", f"-Wl,-rpath,{lib_dir}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m seqpacker.config",
        description="Print what a compiler needs to use the C library of this package.")
    parser.add_argument("--cflags", action="store_true", help="the include flag")
    parser.add_argument("--libs", action="store_true",
                        help="the link flags, with an rpath to the package")
    parser.add_argument("--pkg-config-path", action="store_true",
                        help="the folder of seqpacker.pc, for PKG_CONFIG_PATH")
    parser.add_argument("--includedir", action="store_true", help="the folder of seqpacker.h")
    parser.add_argument("--libdir", action="store_true", help="the folder of libseqpacker")
    parser.add_argument("--version", action="store_true", help="the library's version")
    args = parser.parse_args(argv)
    words: list[str] = []
    try:
        # Flags are shell-quoted, as pkg-config escapes them: a path with a
        # space stays one word where a shell or make parses the line. The
        # single folders below are printed as they are (for assignments).
        if args.cflags:
            words += map(shlex.quote, cflags())
        if args.libs:
            words += map(shlex.quote, libs())
        if args.pkg_config_path:
            words.append(get_pkg_config_dir())
        if args.includedir:
            words.append(get_include())
        if args.libdir:
            words.append(get_lib_dir())
        if args.version:
            words.append(_native.library_version())
    except FileNotFoundError as error:
        print(f"seqpacker.config: {error}", file=sys.stderr)
        return 1
    if not words:
        parser.print_usage(sys.stderr)
        return 2
    print(" ".join(words))
    return 0


if __name__ == "__main__":
    sys.exit(main())
