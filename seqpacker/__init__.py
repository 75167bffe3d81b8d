"""seqpacker: fast, correct sequence packing for LLM training.

    >>> from seqpacker import pack_sequences
    >>> pack_sequences([500, 600, 400, 1000], capacity=2048).bins
    [[0, 3], [1, 2]]

Importing this package loads only NumPy and the compiled C library (never
torch, never plugins).
"""

from ._core import native as _native
from .packer import Packer, pack_sequences
from .plan import Plan, plan
from .result import Pack, PackMetrics, PackResult
from .schedule import Schedule, balance
from .stream import StreamPacker

#: The package and its C library share one version number.
__version__ = _native.library_version()

__all__ = [
    "__version__",
    "Pack",
    "PackMetrics",
    "PackResult",
    "Packer",
    "Plan",
    "Schedule",
    "StreamPacker",
    "balance",
    "pack_sequences",
    "plan",
]
