/*
 * _stream_batch.c - _add_many, the one call of Stream (_stream.c) that may
 * release the GIL, with the lock that makes the others wait for it and the
 * fork handlers that need the same lock.
 *
 * Only a large _add_many releases the GIL during its C call (other threads
 * run on; a lock per stream on the C side would cost add() more than its C
 * call). It first takes `lock` and sets `busy` (under the GIL), and every
 * other call that finds `busy` set waits on `lock` with the GIL released
 * until it is clear. So a thread that meets a long call blocks instead of
 * spinning.
 */
#include "_stream.h"

/* _add_many releases the GIL during its C call from this many lengths on:
 * shorter chunks take less time than handing the GIL over and back. */
enum { GIL_FREE_LENGTHS = 1 << 14 };

void wait_free(Stream *self)
{
    while (self->busy) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        PyThread_release_lock(self->lock);
        Py_END_ALLOW_THREADS
    }
}

/* Makes the handle the caller's across a release of the GIL (`busy`). */
static void hold(Stream *self)
{
    wait_free(self);
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        /* a waiter of wait_free() has it for a moment, never `busy` */
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    self->busy = 1;
}

static void let_go(Stream *self)
{
    self->busy = 0;
    PyThread_release_lock(self->lock);
}

/* _add_many(lengths, flat): add an int64 array (all of it or, on a bad
 * length, none) and hand out the pending packs and every pack it closes,
 * in one C pass (sp_stream_pack_many): as Pack objects, or `flat` as
 * (items, offsets) (chunk_flat). The chunk C writes into is allocated
 * before the C call, so that its packs are kept, after the pending ones,
 * without allocating. StreamError(status, index, taken): the first bad
 * length's index, or the index of the first length not taken when C ran
 * out of memory or found a length changed (by another thread) partway;
 * `taken` lengths stay added, and their packs are kept as pending. */
PyObject *stream_add_many(Stream *self, PyObject *args)
{
    PyObject *array, *holder;
    int flat;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "Op:_add_many", &array, &flat) || !has_stream(self))
        return NULL;
    const int64_t *lengths = int64_array(array, "lengths", &holder, &n);
    if (lengths == NULL)
        return NULL;
    const int gil_free = n >= GIL_FREE_LENGTHS;
    int64_t items_size, packs_size, error_index = 0, taken = 0;
    sp_stream_info before, after;
    Chunk *got = NULL;
    if (gil_free)
        hold(self);
    else
        wait_free(self);
    int status = sp_stream_get_info(self->stream, &before);
    if (status == SP_OK)
        status = sp_stream_pack_many_bound(self->stream, (int64_t)n, &items_size, &packs_size);
    if (status == SP_OK && (got = chunk_new(items_size, packs_size)) == NULL)
        status = -1;
    if (status == SP_OK) {
        sp_pack_buffers out = chunk_buffers(got, items_size, packs_size);
        if (gil_free) {
            Py_BEGIN_ALLOW_THREADS
            status = sp_stream_pack_many(self->stream, lengths, (int64_t)n, &out, &error_index);
            Py_END_ALLOW_THREADS
        } else {
            status = sp_stream_pack_many(self->stream, lengths, (int64_t)n, &out, &error_index);
        }
        chunk_written(got, &out);
        keep(self, got); /* after the pending packs, before any Python code runs */
        if (status != SP_OK && sp_stream_get_info(self->stream, &after) == SP_OK)
            taken = after.sequences_added - before.sequences_added;
    }
    if (gil_free)
        let_go(self);
    Py_DECREF(holder);
    if (status == -1)
        return NULL;
    if (status != SP_OK)
        return status_error_taken(status, error_index, taken);
    return hand_out(self, flat, 1);
}

/* _fork_hold() and _fork_release(): around a fork (stream.py), so that no
 * call of another thread is inside the C stream when the process is
 * copied and the child finds the lock free. _fork_release lets go only
 * of a hold of _fork_hold (never of another thread's call), so it may be
 * called for a stream that _fork_hold did not reach. */
PyObject *stream_fork_hold(Stream *self, PyObject *unused)
{
    (void)unused;
    if (!self->fork_held) {
        hold(self);
        self->fork_held = 1;
    }
    Py_RETURN_NONE;
}

PyObject *stream_fork_release(Stream *self, PyObject *unused)
{
    (void)unused;
    if (self->fork_held) {
        self->fork_held = 0;
        let_go(self);
    }
    Py_RETURN_NONE;
}
