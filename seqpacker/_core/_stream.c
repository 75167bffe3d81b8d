/*
 * _stream.c - Stream, the base class of StreamPacker (seqpacker/stream.py):
 * it owns one C stream (sp_stream) and makes every call on it.
 *
 * add() runs once per length, so it is a method of this type: a cffi call
 * per length, with the Python that builds its packs, costs far more than
 * the add itself. add() takes an int (or NumPy integer), adds it, and
 * builds the packs it closed, all in C. The other calls (_add_many,
 * _finish, _export, _import, ...) are the C halves of StreamPacker's
 * methods, which check the arguments and word the errors: these raise
 * StreamError(status, index) for a C status, and add() raises the final
 * exception itself.
 *
 * Threads. The C stream answers an overlapping call with SP_ERR_BUSY; the
 * calls here never overlap. Every call holds the GIL while it uses the
 * handle, and runs no Python code meanwhile, so the GIL serialises them;
 * only a large _add_many releases the GIL during its C call (other
 * threads run on; a lock per stream on the C side would cost add() more
 * than its C call). It first takes `lock` and sets `busy` (under the GIL),
 * and every other call that finds `busy` set waits on `lock` with the GIL
 * released until it is clear. So add() pays one branch, and a thread that
 * meets a long call blocks instead of spinning.
 *
 * Interrupts. Packs that a call has moved out of C are handed out or kept
 * as the stream's pending packs, which the next call that returns packs
 * hands out first (and a pickle keeps): so a KeyboardInterrupt checked
 * after the C call (a Ctrl-C during a long call) or a MemoryError while
 * building the packs loses none. add() does not check for signals (its C
 * call is short); a MemoryError while it builds its packs keeps them too.
 *
 * Built against the limited C API of Python 3.9 (meson sets
 * Py_LIMITED_API): the type comes from PyType_FromSpec, and add() takes
 * METH_VARARGS (METH_FASTCALL joins the limited API only in 3.10), which
 * costs a tuple per call; building each pack in C without a Python call
 * more than pays for it. asv_benchmarks/compare_limited_api.py measures
 * both builds.
 */
#include "_chunks.h"

#include <string.h>

#include <pythread.h>

/* One add() closes at most two packs; these buffers take what it usually
 * reads without allocating. */
enum { SMALL_ITEMS = 256, SMALL_PACKS = 8 };

/* _add_many releases the GIL during its C call from this many lengths on:
 * shorter chunks take less time than handing the GIL over and back. */
enum { GIL_FREE_LENGTHS = 1 << 14 };

typedef struct {
    PyObject_HEAD
    sp_stream *stream;
    PyObject *pack_type;    /* seqpacker.result.Pack */
    PyThread_type_lock lock; /* held by a call running without the GIL */
    int busy;                /* 1 while such a call runs (read with the GIL) */
    int64_t capacity;
    Chunk pending;           /* moved out of C, not handed out yet */
} Stream;

static PyObject *stream_error_type; /* StreamError */
static PyObject *integer_type;      /* numpy.integer (set_types) */
static PyObject *overflow_type;     /* native.TotalOverflowError (set_types) */
static PyObject *length_name;       /* "length", interned */

/* For tests (_interrupt_after): the countdown-th next check after a C
 * call raises KeyboardInterrupt, as a Ctrl-C during that call would; with
 * a period, every period-th check after that too. */
static long interrupt_countdown, interrupt_period;

/* ---- the handle ------------------------------------------------------- */

/* Waits, with the GIL released, until no call of another thread runs on
 * the handle without the GIL. The handle is then the caller's until it
 * next runs Python code or releases the GIL. */
static void wait_free(Stream *self)
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

static int has_stream(Stream *self)
{
    if (self->stream != NULL)
        return 1;
    PyErr_SetString(PyExc_RuntimeError, "StreamPacker.__init__ was not called");
    return 0;
}

/* StreamError(status, index): NULL. */
static PyObject *status_error(int status, int64_t index)
{
    PyObject *args = Py_BuildValue("(iL)", status, (long long)index);
    if (args != NULL) {
        PyErr_SetObject(stream_error_type, args);
        Py_DECREF(args);
    }
    return NULL;
}

/* A new handle (from sp_stream_create or sp_stream_import) in place of the
 * old one, which is freed. */
static void replace(Stream *self, sp_stream *stream, PyObject *pack_type)
{
    sp_stream_info info;
    wait_free(self);
    sp_stream_free(self->stream);
    self->stream = stream;
    sp_stream_get_info(stream, &info);
    self->capacity = info.capacity;
    chunk_free(&self->pending);
    Py_INCREF(pack_type);
    Py_XDECREF(self->pack_type);
    self->pack_type = pack_type;
}

/* ---- handing packs out ------------------------------------------------ */

static int interrupted(void)
{
    if (interrupt_countdown > 0 && --interrupt_countdown == 0) {
        interrupt_countdown = interrupt_period;
        PyErr_SetNone(PyExc_KeyboardInterrupt);
        return -1;
    }
    return PyErr_CheckSignals();
}

/* Keeps *got before the stream's pending packs (it is empty after). */
static void keep(Stream *self, Chunk *got)
{
    if (chunk_join(got, &self->pending) == 0)
        self->pending = *got;
    else
        chunk_free(got); /* out of memory twice over: they are lost */
    memset(got, 0, sizeof *got);
}

/* The pending packs and then *got (freed), as a list of packs or, `flat`,
 * as chunk_flat(). Python code may run from here on: the pending packs are
 * taken out first and put back in front if the result is not made. */
static PyObject *hand_out(Stream *self, Chunk *got, int flat, int check)
{
    Chunk all = self->pending;
    memset(&self->pending, 0, sizeof self->pending);
    PyObject *result = NULL;
    if (chunk_join(&all, got) < 0) {
        keep(self, got);
        keep(self, &all);
        return NULL;
    }
    if (!check || interrupted() == 0)
        result = flat ? chunk_flat(&all) : chunk_packs(&all, self->pack_type);
    if (result == NULL)
        keep(self, &all);
    chunk_free(&all);
    return result;
}

/* Moves the unread packs out of C into *got; 0, or -1 with an exception. */
static int read_unread(Stream *self, Chunk *got)
{
    sp_stream_info info;
    int status = sp_stream_get_info(self->stream, &info);
    if (status == SP_OK &&
        chunk_alloc(got, info.unread_items, info.unread_packs) < 0)
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
    return 0;
}

/* ---- add --------------------------------------------------------------- */

/* The one argument of add(length) or add(length=...) (as in seqpacker
 * 0.1.3), borrowed; NULL with TypeError for any other call. */
static PyObject *the_length(PyObject *args, PyObject *kwargs)
{
    const Py_ssize_t nargs = PyTuple_Size(args);
    const Py_ssize_t nkw = kwargs == NULL ? 0 : PyDict_Size(kwargs);
    PyObject *length = NULL;
    if (nargs == 1 && nkw == 0)
        length = PyTuple_GetItem(args, 0);
    else if (nargs == 0 && nkw == 1)
        length = PyDict_GetItem(kwargs, length_name);
    if (length == NULL)
        PyErr_Format(PyExc_TypeError, "add() takes exactly one argument, length");
    return length;
}

/* The length as an int64 (*overflow set when it does not fit), by the
 * type rule of seqpacker._core.validation.as_length: an int or NumPy
 * integer, subclasses too, not a bool. -1 with TypeError otherwise. */
static int length_value(PyObject *length, long long *value, int *overflow)
{
    PyObject *index = NULL;
    if (!PyLong_CheckExact(length)) {
        int integer = PyLong_Check(length) && !PyBool_Check(length);
        if (!integer && integer_type != NULL) {
            integer = PyObject_IsInstance(length, integer_type);
            if (integer < 0)
                return -1;
        }
        if (!integer) {
            PyObject *name = PyObject_GetAttrString((PyObject *)Py_TYPE(length), "__name__");
            if (name != NULL)
                PyErr_Format(PyExc_TypeError, "length must be an int, not %U (%R)", name,
                             length);
            Py_XDECREF(name);
            return -1;
        }
        index = PyNumber_Index(length);
        if (index == NULL)
            return -1;
        length = index;
    }
    *value = PyLong_AsLongLongAndOverflow(length, overflow);
    Py_XDECREF(index);
    return *value == -1 && PyErr_Occurred() ? -1 : 0;
}

/* The error of add() for a status (see seqpacker._core.native._ERRORS). */
static PyObject *add_error(Stream *self, int status, PyObject *length)
{
    PyObject *value = PyNumber_Index(length);
    if (value == NULL)
        return NULL;
    if (status == SP_ERR_LENGTH_NOT_POSITIVE)
        PyErr_Format(PyExc_ValueError,
                     "length = %S is not a valid length: every length must be >= 1", value);
    else if (status == SP_ERR_LENGTH_EXCEEDS_CAPACITY)
        PyErr_Format(PyExc_ValueError, "length = %S exceeds capacity %lld", value,
                     (long long)self->capacity);
    else if (status == SP_ERR_FINISHED)
        PyErr_SetString(PyExc_ValueError, "this StreamPacker is finished: create a new one "
                                          "to pack more lengths");
    else if (status == SP_ERR_OVERFLOW && overflow_type != NULL)
        PyErr_Format(overflow_type, "the number of sequences of a stream does not fit int64 "
                     "(max %lld)", (long long)INT64_MAX);
    else if (status == SP_ERR_OUT_OF_MEMORY)
        PyErr_SetString(PyExc_MemoryError, "seqpacker: out of memory");
    else
        PyErr_Format(PyExc_RuntimeError, "seqpacker C library error %d: %s (a bug in "
                     "seqpacker: please report it)", status, sp_status_string(status));
    Py_DECREF(value);
    return NULL;
}

/* The packs an add() left unread (at most SMALL_PACKS, usually), built
 * from buffers on the stack; the general path when packs are pending or
 * more are unread. */
static PyObject *add_packs(Stream *self)
{
    int64_t items[SMALL_ITEMS], lengths[SMALL_ITEMS], offsets[SMALL_PACKS + 1],
        used[SMALL_PACKS];
    sp_stream_info info;
    Chunk got = {0};
    if (self->pending.num_packs == 0 && sp_stream_get_info(self->stream, &info) == SP_OK &&
        info.unread_items <= SMALL_ITEMS && info.unread_packs <= SMALL_PACKS) {
        sp_pack_buffers out = {items, lengths, SMALL_ITEMS, offsets, used, SMALL_PACKS, 0};
        int status = sp_stream_read(self->stream, &out);
        if (status != SP_OK)
            return status_error(status, 0);
        PyObject *packs = make_packs(self->pack_type, items, lengths, offsets, used,
                                     out.num_packs);
        if (packs == NULL && chunk_alloc(&got, out.bin_offsets[out.num_packs],
                                         out.num_packs) == 0) {
            /* kept as pending: a copy on the heap */
            memcpy(got.items, items, (size_t)offsets[out.num_packs] * 8);
            memcpy(got.lengths, lengths, (size_t)offsets[out.num_packs] * 8);
            memcpy(got.offsets, offsets, (size_t)(out.num_packs + 1) * 8);
            memcpy(got.used, used, (size_t)out.num_packs * 8);
            chunk_written(&got, &out);
            keep(self, &got);
        }
        return packs;
    }
    if (read_unread(self, &got) < 0)
        return NULL;
    return hand_out(self, &got, 0, 0);
}

/* add(length): the packs it completed. */
static PyObject *stream_add(Stream *self, PyObject *args, PyObject *kwargs)
{
    PyObject *length = the_length(args, kwargs);
    long long value;
    int overflow, status;
    int64_t unread;
    if (length == NULL || !has_stream(self) || length_value(length, &value, &overflow) < 0)
        return NULL;
    if (overflow)
        return add_error(self, overflow < 0 ? SP_ERR_LENGTH_NOT_POSITIVE
                                            : SP_ERR_LENGTH_EXCEEDS_CAPACITY, length);
    if (self->busy)
        wait_free(self);
    status = sp_stream_add(self->stream, (int64_t)value, &unread);
    if (status != SP_OK)
        return add_error(self, status, length);
    if (unread == 0 && self->pending.num_packs == 0)
        return PyList_New(0);
    return add_packs(self);
}

/* ---- the other calls --------------------------------------------------- */

/* _add_many(lengths, flat): add an int64 array (all of it or, on a bad
 * length, none) and hand out the pending packs and every pack it closes,
 * in one C pass (sp_stream_pack_many): as Pack objects, or `flat` as
 * (items, offsets) (chunk_flat). StreamError with
 * the first bad length's index, or with the number of lengths taken when
 * C ran out of memory partway (their packs are kept as pending). */
static PyObject *stream_add_many(Stream *self, PyObject *args)
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
    int64_t items_size, packs_size, error_index = 0;
    Chunk got = {0};
    if (gil_free)
        hold(self);
    else
        wait_free(self);
    int status = sp_stream_pack_many_bound(self->stream, (int64_t)n, &items_size, &packs_size);
    if (status == SP_OK && chunk_alloc(&got, items_size, packs_size) < 0)
        status = -1;
    if (status == SP_OK) {
        sp_pack_buffers out = chunk_buffers(&got, items_size, packs_size);
        if (gil_free) {
            Py_BEGIN_ALLOW_THREADS
            status = sp_stream_pack_many(self->stream, lengths, (int64_t)n, &out, &error_index);
            Py_END_ALLOW_THREADS
        } else {
            status = sp_stream_pack_many(self->stream, lengths, (int64_t)n, &out, &error_index);
        }
        chunk_written(&got, &out);
    }
    if (gil_free)
        let_go(self);
    Py_DECREF(holder);
    if (status == -1)
        return NULL;
    if (status != SP_OK) {
        keep(self, &got); /* packs of a prefix taken before running out of memory */
        return status_error(status, error_index);
    }
    return hand_out(self, &got, flat, 1);
}

/* _finish(): close the open bins and hand out every pack still unread or
 * pending; StreamError(SP_ERR_FINISHED) on a finished stream with none. */
static PyObject *stream_finish(Stream *self, PyObject *unused)
{
    Chunk got = {0};
    (void)unused;
    if (!has_stream(self))
        return NULL;
    wait_free(self);
    int status = sp_stream_finish(self->stream);
    if (status != SP_OK && status != SP_ERR_FINISHED)
        return status_error(status, 0);
    if (read_unread(self, &got) < 0)
        return NULL;
    if (status != SP_OK && got.num_packs == 0 && self->pending.num_packs == 0) {
        chunk_free(&got);
        return status_error(status, 0);
    }
    return hand_out(self, &got, 0, 1);
}

/* _info(): the sp_stream_info fields, in their order, and the number of
 * pending packs. */
static PyObject *stream_info(Stream *self, PyObject *unused)
{
    sp_stream_info i;
    (void)unused;
    if (!has_stream(self))
        return NULL;
    wait_free(self);
    int status = sp_stream_get_info(self->stream, &i);
    if (status != SP_OK)
        return status_error(status, 0);
    return Py_BuildValue("(LLLLLLLLLLL)", (long long)i.capacity, (long long)i.strategy,
                         (long long)i.k, (long long)i.max_items,
                         (long long)i.sequences_added, (long long)i.open_bins,
                         (long long)i.open_items, (long long)i.unread_packs,
                         (long long)i.unread_items, (long long)i.finished,
                         (long long)self->pending.num_packs);
}

/* _export(): (state, pending) of one moment: the C state as bytes of
 * native int64 (sp_stream_export) and the pending packs as chunk_bytes(),
 * or None when none are pending. */
static PyObject *stream_export(Stream *self, PyObject *unused)
{
    int64_t size = 0, written = 0;
    (void)unused;
    if (!has_stream(self))
        return NULL;
    wait_free(self);
    /* No Python code runs until both are copied. */
    int status = sp_stream_state_size(self->stream, &size);
    int64_t *state = status == SP_OK ? PyMem_New(int64_t, (size_t)size + 1) : NULL;
    if (status == SP_OK && state == NULL)
        return PyErr_NoMemory();
    if (status == SP_OK)
        status = sp_stream_export(self->stream, state, size, &written);
    Chunk pending = {0};
    if (status == SP_OK && self->pending.num_packs > 0) {
        const Chunk *p = &self->pending;
        if (chunk_alloc(&pending, p->num_items, p->num_packs) < 0) {
            PyMem_Free(state);
            return NULL;
        }
        memcpy(pending.items, p->items, (size_t)p->num_items * 8);
        memcpy(pending.lengths, p->lengths, (size_t)p->num_items * 8);
        memcpy(pending.offsets, p->offsets, (size_t)(p->num_packs + 1) * 8);
        memcpy(pending.used, p->used, (size_t)p->num_packs * 8);
        pending.num_items = p->num_items;
        pending.num_packs = p->num_packs;
    }
    PyObject *result = NULL;
    if (status != SP_OK)
        status_error(status, 0);
    else if (pending.num_packs > 0)
        result = Py_BuildValue("(y#N)", (const char *)state, (Py_ssize_t)written * 8,
                               chunk_bytes(&pending));
    else
        result = Py_BuildValue("(y#O)", (const char *)state, (Py_ssize_t)written * 8, Py_None);
    PyMem_Free(state);
    chunk_free(&pending);
    return result;
}

/* _open(capacity, strategy, k, max_items, pack_type): a new C stream
 * (sp_stream_create) in place of any before; StreamError on a bad
 * setting. */
static PyObject *stream_open(Stream *self, PyObject *args)
{
    long long capacity, k, max_items;
    int strategy;
    PyObject *pack_type;
    sp_options options;
    sp_stream *stream = NULL;
    if (!PyArg_ParseTuple(args, "LiLLO:_open", &capacity, &strategy, &k, &max_items,
                          &pack_type) ||
        !is_pack_type(pack_type, "pack_type"))
        return NULL;
    sp_options_init(&options);
    options.k = k;
    options.max_items = max_items;
    int status = sp_stream_create(capacity, strategy, &options, &stream);
    if (status != SP_OK)
        return status_error(status, 0);
    replace(self, stream, pack_type);
    Py_RETURN_NONE;
}

/* _import(state, pending, pack_type): the stream of an exported state (an
 * int64 array) in place of any before, with the pending packs (None, or
 * (items, lengths, offsets, used) int64 arrays that the caller checked);
 * StreamError(SP_ERR_INVALID_STATE) for a damaged state. */
static PyObject *stream_import(Stream *self, PyObject *args)
{
    PyObject *state_array, *pending, *pack_type, *holders[4] = {NULL};
    const int64_t *arrays[4];
    Py_ssize_t sizes[4], state_size;
    static const char *const names[4] = {"items", "lengths", "offsets", "used"};
    sp_stream *stream = NULL;
    Chunk packs = {0};
    if (!PyArg_ParseTuple(args, "OOO:_import", &state_array, &pending, &pack_type) ||
        !is_pack_type(pack_type, "pack_type"))
        return NULL;
    if (pending != Py_None) {
        if (!PyTuple_Check(pending) || PyTuple_Size(pending) != 4)
            return PyErr_Format(PyExc_TypeError, "pending must be None or 4 arrays");
        for (int a = 0; a < 4; a++)
            if ((arrays[a] = int64_array(PyTuple_GetItem(pending, a), names[a], &holders[a],
                                         &sizes[a])) == NULL)
                goto done;
        if (sizes[2] < 1 || sizes[3] != sizes[2] - 1 || sizes[1] != sizes[0]) {
            PyErr_SetString(PyExc_ValueError, "pending packs: array sizes");
            goto done;
        }
        if (chunk_alloc(&packs, sizes[0], sizes[3]) < 0)
            goto done;
        memcpy(packs.items, arrays[0], (size_t)sizes[0] * 8);
        memcpy(packs.lengths, arrays[1], (size_t)sizes[1] * 8);
        memcpy(packs.offsets, arrays[2], (size_t)sizes[2] * 8);
        memcpy(packs.used, arrays[3], (size_t)sizes[3] * 8);
        packs.num_items = sizes[0];
        packs.num_packs = sizes[3];
    }
    PyObject *holder;
    const int64_t *state = int64_array(state_array, "state", &holder, &state_size);
    if (state == NULL)
        goto done;
    int status = sp_stream_import(state, (int64_t)state_size, &stream);
    Py_DECREF(holder);
    if (status != SP_OK) {
        status_error(status, 0);
        goto done;
    }
    replace(self, stream, pack_type);
    self->pending = packs;
    memset(&packs, 0, sizeof packs);
done:
    chunk_free(&packs);
    for (int a = 0; a < 4; a++)
        Py_XDECREF(holders[a]);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

/* _fork_hold() and _fork_release(): around a fork (stream.py), so that no
 * call of another thread is inside the C stream when the process is
 * copied and the child finds the lock free. */
static PyObject *stream_fork_hold(Stream *self, PyObject *unused)
{
    (void)unused;
    hold(self);
    Py_RETURN_NONE;
}

static PyObject *stream_fork_release(Stream *self, PyObject *unused)
{
    (void)unused;
    if (self->busy)
        let_go(self);
    Py_RETURN_NONE;
}

/* ---- the type ------------------------------------------------------------ */

static PyObject *stream_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    allocfunc alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    Stream *self = (Stream *)alloc(type, 0);
    (void)args;
    (void)kwargs;
    if (self == NULL)
        return NULL;
    self->lock = PyThread_allocate_lock();
    if (self->lock == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static int stream_traverse(Stream *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self)); /* a heap type: its instances hold it */
    Py_VISIT(self->pack_type);
    return 0;
}

static int stream_clear(Stream *self)
{
    Py_CLEAR(self->pack_type);
    return 0;
}

static void stream_dealloc(Stream *self)
{
    PyTypeObject *type = Py_TYPE(self);
    freefunc tp_free = (freefunc)PyType_GetSlot(type, Py_tp_free);
    PyObject_GC_UnTrack(self);
    stream_clear(self);
    sp_stream_free(self->stream); /* no call runs: each holds a reference */
    chunk_free(&self->pending);
    if (self->lock != NULL)
        PyThread_free_lock(self->lock);
    tp_free(self);
    Py_DECREF(type);
}

static PyMethodDef stream_methods[] = {
    {"add", (PyCFunction)(void (*)(void))stream_add, METH_VARARGS | METH_KEYWORDS,
     "add($self, length)\n--\n\n"
     "Add one length; returns the packs it completed (often none)."},
    {"_add_many", (PyCFunction)stream_add_many, METH_VARARGS,
     "_add_many(lengths, flat): add an int64 array; its packs or flat arrays."},
    {"_finish", (PyCFunction)stream_finish, METH_NOARGS, "_finish(): the last packs."},
    {"_info", (PyCFunction)stream_info, METH_NOARGS,
     "_info(): sp_stream_info's fields and the number of pending packs."},
    {"_export", (PyCFunction)stream_export, METH_NOARGS,
     "_export(): (state bytes, pending packs as 4 bytes or None)."},
    {"_open", (PyCFunction)stream_open, METH_VARARGS,
     "_open(capacity, strategy, k, max_items, pack_type): a new C stream."},
    {"_import", (PyCFunction)stream_import, METH_VARARGS,
     "_import(state, pending, pack_type): the stream of an exported state."},
    {"_fork_hold", (PyCFunction)stream_fork_hold, METH_NOARGS, "Before a fork."},
    {"_fork_release", (PyCFunction)stream_fork_release, METH_NOARGS, "After a fork."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot stream_slots[] = {
    {Py_tp_doc, (void *)"StreamPacker's base: one C stream and every call on it."},
    {Py_tp_new, (void *)stream_new},
    {Py_tp_dealloc, (void *)stream_dealloc},
    {Py_tp_traverse, (void *)stream_traverse},
    {Py_tp_clear, (void *)stream_clear},
    {Py_tp_methods, stream_methods},
    {0, NULL},
};

static PyType_Spec stream_spec = {
    .name = "seqpacker._core._ext.Stream",
    .basicsize = sizeof(Stream),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = stream_slots,
};

/* ---- module functions --------------------------------------------------- */

static PyObject *set_types(PyObject *module, PyObject *args)
{
    PyObject *integer, *overflow;
    (void)module;
    if (!PyArg_ParseTuple(args, "OO:set_types", &integer, &overflow))
        return NULL;
    Py_INCREF(integer);
    Py_INCREF(overflow);
    Py_XDECREF(integer_type);
    Py_XDECREF(overflow_type);
    integer_type = integer;
    overflow_type = overflow;
    Py_RETURN_NONE;
}

static PyObject *interrupt_after(PyObject *module, PyObject *args)
{
    long countdown, period = 0;
    (void)module;
    if (!PyArg_ParseTuple(args, "l|l:_interrupt_after", &countdown, &period))
        return NULL;
    interrupt_countdown = countdown;
    interrupt_period = period;
    Py_RETURN_NONE;
}

static PyMethodDef stream_functions[] = {
    {"set_types", set_types, METH_VARARGS,
     "set_types(integer, overflow): the Python types add() needs: numpy.integer\n"
     "(what it takes besides int) and the error for a total beyond int64\n"
     "(seqpacker._core.native.TotalOverflowError)."},
    {"_interrupt_after", interrupt_after, METH_VARARGS,
     "_interrupt_after(countdown, period=0), for tests: the countdown-th next\n"
     "check for signals after a C stream call raises KeyboardInterrupt (and\n"
     "every period-th after it); 0 turns it off."},
    {NULL, NULL, 0, NULL},
};

int stream_add_to_module(PyObject *module)
{
    length_name = PyUnicode_InternFromString("length");
    stream_error_type = PyErr_NewException("seqpacker._core._ext.StreamError", NULL, NULL);
    if (length_name == NULL || stream_error_type == NULL ||
        PyModule_AddFunctions(module, stream_functions) < 0)
        return -1;
    Py_INCREF(stream_error_type);
    if (PyModule_AddObject(module, "StreamError", stream_error_type) < 0) {
        Py_DECREF(stream_error_type);
        return -1;
    }
    PyObject *type = PyType_FromSpec(&stream_spec);
    /* PyModule_AddObject takes the reference only when it succeeds. */
    if (type == NULL || PyModule_AddObject(module, "Stream", type) < 0) {
        Py_XDECREF(type);
        return -1;
    }
    return 0;
}
