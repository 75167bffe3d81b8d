"""A function that fails the first time it runs anywhere, for engine retry
tests. A marker file says it ran: engines run tasks in other processes,
which share the file system but no Python state. Engines pickle this module
by value (it is not importable on their workers)."""

import os


def fail_once(fn, marker: str):
    """``fn``, except that the first call anywhere raises RuntimeError."""
    def wrapper(*args, **kwargs):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return fn(*args, **kwargs)
        os.close(fd)
        raise RuntimeError("injected failure in the middle of a shard")
    return wrapper


def failing(build, stage: str, marker: str):
    """``build`` (a Stages builder of seqpacker._engine_stages) whose
    ``stage`` fails the first time it runs anywhere."""
    import dataclasses

    def wrapped(*args):
        stages = build(*args)
        return dataclasses.replace(stages, **{stage: fail_once(getattr(stages, stage), marker)})
    return wrapped
