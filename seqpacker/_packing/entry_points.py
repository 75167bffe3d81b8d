"""The entry points of one group, each with the distribution it comes from,
read the same way on every supported Python (3.9 and later).

``importlib.metadata.entry_points(group=...)`` and ``EntryPoint.dist`` exist
only from Python 3.10 on; Python 3.9's entry points know neither their
distribution nor its version. So the entry points are read per
distribution, which every version supports: ``distributions()`` in
``sys.path`` order, each one's ``entry_points`` kept when in the group.

When one distribution is installed twice on ``sys.path``, only the first
copy counts, as in ``entry_points()`` from Python 3.10 on (the copy that
``import`` finds). Only distributions with an entry point in the group
have their metadata parsed: reading every distribution's name would make
a lookup's cost grow with the size of the environment.
"""

from __future__ import annotations

import re
from importlib import metadata


def find(group: str) -> list[tuple[str | None, str | None, object]]:
    """``(distribution name, version, entry point)`` for each entry point in
    ``group``, in ``sys.path`` order; a name or version that the metadata
    lacks is None."""
    found = []
    seen = set()
    for dist in metadata.distributions():
        entry_points = [ep for ep in dist.entry_points if ep.group == group]
        if not entry_points:
            continue
        name, version = _name_and_version(dist)
        key = None if name is None else re.sub(r"[-_.]+", "-", name).lower()
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        found += [(name, version, ep) for ep in entry_points]
    return found


def _name_and_version(dist) -> tuple[str | None, str | None]:
    """The distribution's name and version, None for what its metadata
    lacks or cannot give (a damaged install must not hide other plugins)."""
    try:
        meta = dist.metadata
        return meta.get("Name") or None, meta.get("Version") or None
    except Exception:  # e.g. no METADATA file: Python 3.9 cannot parse None
        return None, None
