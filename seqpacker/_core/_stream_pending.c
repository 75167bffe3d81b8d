/*
 * _stream_pending.c - the packs a Stream (_stream.c) moves out of C: handed
 * out, or kept as pending packs when a call cannot hand them out (a
 * KeyboardInterrupt after its C call, a MemoryError while building them);
 * and _export and _import, which carry the pending packs with the state.
 */
#include "_stream.h"

#include <string.h>

/* For tests (_interrupt_after): the countdown-th next check after a C
 * call raises KeyboardInterrupt, as a Ctrl-C during that call would, or
 * calls `call` there, as a signal handler would run; with a period, every
 * period-th check after that too. */
static long interrupt_countdown, interrupt_period;
static PyObject *interrupt_call;

PyObject *interrupt_after(PyObject *module, PyObject *args)
{
    long countdown, period = 0;
    PyObject *call = Py_None;
    (void)module;
    if (!PyArg_ParseTuple(args, "l|lO:_interrupt_after", &countdown, &period, &call))
        return NULL;
    interrupt_countdown = countdown;
    interrupt_period = period;
    Py_INCREF(call);
    Py_XDECREF(interrupt_call);
    interrupt_call = call;
    Py_RETURN_NONE;
}

int interrupted(void)
{
    if (interrupt_countdown > 0 && --interrupt_countdown == 0) {
        interrupt_countdown = interrupt_period;
        if (interrupt_call == NULL || interrupt_call == Py_None) {
            PyErr_SetNone(PyExc_KeyboardInterrupt);
            return -1;
        }
        PyObject *call = interrupt_call, *done;
        Py_INCREF(call);
        done = PyObject_CallObject(call, NULL);
        Py_DECREF(call);
        if (done == NULL)
            return -1;
        Py_DECREF(done);
    }
    return PyErr_CheckSignals();
}

void keep(Stream *self, Chunk *got)
{
    while (got != NULL) {
        Chunk *next = got->next;
        got->next = NULL;
        if (got->num_packs > 0)
            chunk_link(&self->pending, got);
        else
            chunk_free(got);
        got = next;
    }
}

/* Python code may run while the result is built (a collection's
 * finalizers, another thread): the packs are taken out of the stream
 * first, so that no other call hands them out too, and linked back in
 * front of any pending meanwhile if the result is not built. */
PyObject *hand_out(Stream *self, int flat, int check)
{
    if (check && interrupted() < 0)
        return NULL;
    Chunk *all = self->pending;
    self->pending = NULL;
    PyObject *result = flat ? chunk_flat(&all) : chunk_packs(all, self->pack_type);
    if (result == NULL) {
        chunk_link(&all, self->pending);
        self->pending = all;
    } else if (!flat) {
        chunk_free(all);
    }
    return result;
}

int read_unread(Stream *self)
{
    sp_stream_info info;
    Chunk *got = NULL;
    int status = sp_stream_get_info(self->stream, &info);
    if (status == SP_OK &&
        (got = chunk_new(info.unread_items, info.unread_packs)) == NULL)
        return -1;
    if (status == SP_OK) {
        sp_pack_buffers out = chunk_buffers(got, info.unread_items, info.unread_packs);
        status = sp_stream_read(self->stream, &out);
        chunk_written(got, &out);
    }
    if (status != SP_OK) {
        chunk_free(got);
        status_error(status, 0);
        return -1;
    }
    keep(self, got);
    return 0;
}

/* _export(): (state, pending) of one moment: the C state as bytes of
 * native int64 (sp_stream_export) and the pending packs as chunk_bytes(),
 * or None when none are pending. */
PyObject *stream_export(Stream *self, PyObject *unused)
{
    int64_t size = 0, written = 0;
    PyObject *pending = NULL, *result = NULL;
    (void)unused;
    if (!has_stream(self))
        return NULL;
    wait_free(self);
    /* No Python code runs until both are copied (chunk_bytes copies the
     * pending packs before it builds anything that may run some). */
    int status = sp_stream_state_size(self->stream, &size);
    int64_t *state = status == SP_OK ? PyMem_New(int64_t, (size_t)size + 1) : NULL;
    if (status == SP_OK && state == NULL)
        return PyErr_NoMemory();
    if (status == SP_OK)
        status = sp_stream_export(self->stream, state, size, &written);
    if (status != SP_OK)
        status_error(status, 0);
    else if (self->pending == NULL)
        result = Py_BuildValue("(y#O)", (const char *)state, (Py_ssize_t)written * 8, Py_None);
    else if ((pending = chunk_bytes(self->pending)) != NULL)
        result = Py_BuildValue("(y#N)", (const char *)state, (Py_ssize_t)written * 8, pending);
    PyMem_Free(state);
    return result;
}

/* The first rule that pending packs of (items, lengths, offsets, used),
 * with these sizes, break for a stream with this info, or NULL: at least
 * one pack; offsets from 0 to the number of ids, each pack non-empty;
 * each length in [1, capacity]; each id below the next id; each used the
 * sum of its pack's lengths, at most capacity. Every read lies inside the
 * arrays, whatever they hold. (An id twice is stream.py's check.) */
static const char *pending_fault(const int64_t *const a[4], const Py_ssize_t n[4],
                                 const sp_stream_info *info)
{
    const int64_t *items = a[0], *lengths = a[1], *offsets = a[2], *used = a[3];
    if (n[2] < 2 || n[3] != n[2] - 1 || n[1] != n[0])
        return "array sizes";
    if (offsets[0] != 0 || offsets[n[3]] != n[0])
        return "offsets";
    for (Py_ssize_t p = 0; p < n[3]; p++) {
        if (offsets[p + 1] <= offsets[p] || offsets[p + 1] > n[0])
            return "offsets";
        int64_t sum = 0;
        for (int64_t i = offsets[p]; i < offsets[p + 1]; i++) {
            if (lengths[i] < 1 || lengths[i] > info->capacity)
                return "lengths";
            if (items[i] < 0 || items[i] >= info->sequences_added)
                return "ids";
            if (sum > info->capacity - lengths[i])
                return "used"; /* over capacity */
            sum += lengths[i];
        }
        if (used[p] != sum)
            return "used";
    }
    return NULL;
}

/* _import(state, pending, pack_type): the stream of an exported state (an
 * int64 array), for an object without one (as pickle and copy make), with
 * the pending packs (None, or (items, lengths, offsets, used) int64
 * arrays). StreamError (SP_ERR_INVALID_STATE) for a damaged state;
 * ValueError naming the broken part (pending_fault) for pending packs
 * this stream cannot hand out; then RuntimeError if the object has a
 * stream already (install). On an error the object stays as it was. */
PyObject *stream_import(Stream *self, PyObject *args)
{
    PyObject *state_array, *pending, *pack_type, *holders[5] = {NULL};
    const int64_t *arrays[4], *state;
    Py_ssize_t sizes[4], state_size;
    static const char *const names[4] = {"items", "lengths", "offsets", "used"};
    sp_stream *stream = NULL;
    sp_stream_info info;
    Chunk *packs = NULL;
    if (!PyArg_ParseTuple(args, "OOO:_import", &state_array, &pending, &pack_type) ||
        !is_pack_type(pack_type, "pack_type"))
        return NULL;
    if (pending != Py_None && (!PyTuple_Check(pending) || PyTuple_Size(pending) != 4))
        return PyErr_Format(PyExc_TypeError, "pending must be None or 4 arrays");
    for (int a = 0; a < 4 && pending != Py_None; a++)
        if ((arrays[a] = int64_array(PyTuple_GetItem(pending, a), names[a], &holders[a],
                                     &sizes[a])) == NULL)
            goto done;
    if ((state = int64_array(state_array, "state", &holders[4], &state_size)) == NULL)
        goto done;
    int status = sp_stream_import(state, (int64_t)state_size, &stream);
    if (status == SP_OK)
        status = sp_stream_get_info(stream, &info);
    if (status != SP_OK) {
        status_error(status, 0);
        goto done;
    }
    if (pending != Py_None) {
        const char *fault = pending_fault(arrays, sizes, &info);
        if (fault != NULL) {
            PyErr_SetString(PyExc_ValueError, fault);
            goto done;
        }
        if ((packs = chunk_copy(arrays[0], arrays[1], arrays[2], arrays[3], sizes[3])) == NULL)
            goto done;
    }
    if (install(self, stream, pack_type, packs) == 0)
        stream = NULL, packs = NULL;
done:
    sp_stream_free(stream);
    chunk_free(packs);
    for (int a = 0; a < 5; a++)
        Py_XDECREF(holders[a]);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}
