"""``python -m seqpacker``: the same command-line tool as ``seqpacker``."""

from .cli import main

raise SystemExit(main())
