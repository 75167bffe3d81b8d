"""A stage that fails the first time it runs anywhere, for engine retry
tests. A marker file says it ran: engines run tasks in other processes,
which share the file system but no Python state. Engines pickle this module
by value (it is not importable on their workers)."""

import os


def fail_once(fn, marker: str):
    """``fn`` (a stage that returns an iterator of batches), except that its
    first run anywhere yields one batch and then raises RuntimeError: a task
    that fails in the middle of its shard, after some of its output."""
    def wrapper(*args, **kwargs):
        batches = iter(fn(*args, **kwargs))
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            yield from batches
            return
        os.close(fd)
        for batch in batches:
            yield batch
            break
        raise RuntimeError("injected failure in the middle of a shard")
    return wrapper


def failing(build, stage: str, marker: str):
    """``build`` (a Stages builder of seqpacker._sharded.engine_stages) whose
    ``stage`` fails the first time it runs anywhere."""
    import dataclasses

    def wrapped(*args):
        stages = build(*args)
        return dataclasses.replace(stages, **{stage: fail_once(getattr(stages, stage), marker)})
    return wrapped
