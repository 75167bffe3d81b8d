/*
 * _stream.c - Stream, the base class of StreamPacker (seqpacker/stream.py):
 * it owns one C stream (sp_stream) and makes every call on it. This file
 * holds the type, add() and the calls that use the handle briefly;
 * _stream_pending.c the packs moved out of C, export and import;
 * _stream_batch.c _add_many, which may release the GIL, with the lock and
 * fork handling that this needs.
 *
 * add() runs once per length, so it is a method of this type: a cffi call
 * per length, with the Python that builds its packs, costs far more than
 * the add itself. add() takes an int (or NumPy integer), adds it, and
 * builds the packs it closed, all in C. The other calls (_add_many,
 * _finish, _export, _import, ...) are the C halves of StreamPacker's
 * methods, which check the arguments and word the errors: these raise
 * StreamError(status, index) for a C status. add() raises the exception
 * that stream.py words from seqpacker._core.native's table.
 *
 * Threads. The C stream answers an overlapping call with SP_ERR_BUSY; the
 * calls here never overlap. Every call holds the GIL while it uses the
 * handle and runs no Python code meanwhile, so the GIL serialises them;
 * only a large _add_many releases the GIL during its C call (see
 * _stream_batch.c), and every other call waits for it (wait_free), which
 * costs add() one branch.
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
#include "_stream.h"

/* One add() closes at most two packs; the stream's spare chunk of this
 * size takes what it usually reads. */
enum { SMALL_ITEMS = 256, SMALL_PACKS = 8 };

static PyObject *stream_error_type; /* StreamError */
static PyObject *integer_type;      /* numpy.integer (set_add_helpers) */
static PyObject *add_error;         /* stream.py's _add_error (set_add_helpers) */
static PyObject *length_name;       /* "length", interned */

int has_stream(Stream *self)
{
    if (self->stream != NULL)
        return 1;
    PyErr_SetString(PyExc_RuntimeError, "StreamPacker.__init__ was not called");
    return 0;
}

static PyObject *raise_stream_error(PyObject *args)
{
    if (args != NULL) {
        PyErr_SetObject(stream_error_type, args);
        Py_DECREF(args);
    }
    return NULL;
}

PyObject *status_error(int status, int64_t index)
{
    return raise_stream_error(Py_BuildValue("(iL)", status, (long long)index));
}

PyObject *status_error_taken(int status, int64_t index, int64_t taken)
{
    return raise_stream_error(
        Py_BuildValue("(iLL)", status, (long long)index, (long long)taken));
}

int install(Stream *self, sp_stream *stream, PyObject *pack_type, Chunk *pending)
{
    sp_stream_info info;
    if (self->stream != NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this StreamPacker has a stream already: __init__ and __setstate__ "
                        "set up a new object only (a second call would drop its open bins "
                        "and pending packs); make a new StreamPacker, or pickle.loads one");
        return -1;
    }
    self->stream = stream;
    sp_stream_get_info(stream, &info);
    self->capacity = info.capacity;
    self->pending = pending;
    Py_INCREF(pack_type);
    Py_XDECREF(self->pack_type);
    self->pack_type = pack_type;
    return 0;
}

/* ---- add --------------------------------------------------------------- */

/* The one argument of add(length) or add(length=...), borrowed; NULL with
 * TypeError for any other call. */
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

/* Raises add()'s error for a status: the exception of stream.py's
 * _add_error(status, length, capacity), whose messages are those of
 * seqpacker._core.native. This runs Python code after the C call has
 * returned, when add() no longer uses the handle: no call drives the
 * stream from Python. NULL. */
static PyObject *raise_add_error(Stream *self, int status, PyObject *length)
{
    if (add_error == NULL)
        return status_error(status, 0);
    PyObject *error = PyObject_CallFunction(add_error, "iOL", status, length,
                                            (long long)self->capacity);
    if (error != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(error), error);
        Py_DECREF(error);
    }
    return NULL;
}

/* The packs an add() left unread (at most SMALL_PACKS, usually), read
 * into the stream's spare chunk, which was allocated before: if they are
 * not built, the chunk itself is kept as pending, so that keeping them
 * allocates nothing. The general path when packs are pending or more are
 * unread. */
static PyObject *add_packs(Stream *self)
{
    sp_stream_info info;
    if (self->pending == NULL && sp_stream_get_info(self->stream, &info) == SP_OK &&
        info.unread_items <= SMALL_ITEMS && info.unread_packs <= SMALL_PACKS) {
        /* Taken out while in use: Python code that runs while the packs
         * are built (a collection's finalizers) may call add() too. */
        Chunk *got = self->spare != NULL ? self->spare : chunk_new(SMALL_ITEMS, SMALL_PACKS);
        if (got == NULL)
            return NULL; /* the packs stay unread in C */
        self->spare = NULL;
        sp_pack_buffers out = chunk_buffers(got, info.unread_items, info.unread_packs);
        int status = sp_stream_read(self->stream, &out);
        chunk_written(got, &out);
        PyObject *packs = status != SP_OK ? status_error(status, 0)
                                          : chunk_packs(got, self->pack_type);
        if (packs == NULL) {
            keep(self, got);
        } else if (self->spare == NULL) {
            got->num_items = got->num_packs = 0;
            self->spare = got;
        } else {
            chunk_free(got);
        }
        return packs;
    }
    if (read_unread(self) < 0)
        return NULL;
    return hand_out(self, 0, 0);
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
        return raise_add_error(self, overflow < 0 ? SP_ERR_LENGTH_NOT_POSITIVE
                                                  : SP_ERR_LENGTH_EXCEEDS_CAPACITY, length);
    if (self->busy)
        wait_free(self);
    status = sp_stream_add(self->stream, (int64_t)value, &unread);
    if (status != SP_OK)
        return raise_add_error(self, status, length);
    if (unread == 0 && self->pending == NULL)
        return PyList_New(0);
    return add_packs(self);
}

/* ---- the other short calls ---------------------------------------------- */

/* _finish(): close the open bins and hand out every pack still unread or
 * pending; StreamError(SP_ERR_FINISHED) on a finished stream with none. */
static PyObject *stream_finish(Stream *self, PyObject *unused)
{
    (void)unused;
    if (!has_stream(self))
        return NULL;
    wait_free(self);
    int status = sp_stream_finish(self->stream);
    if (status != SP_OK && status != SP_ERR_FINISHED)
        return status_error(status, 0);
    if (read_unread(self) < 0)
        return NULL;
    if (status != SP_OK && self->pending == NULL)
        return status_error(status, 0);
    return hand_out(self, 0, 1);
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
                         (long long)chunk_count(self->pending));
}

/* _open(capacity, strategy, k, max_items, pack_type): a new C stream
 * (sp_stream_create); StreamError on a bad setting, RuntimeError when the
 * object has a stream already (install). */
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
    if (install(self, stream, pack_type, NULL) < 0) {
        sp_stream_free(stream);
        return NULL;
    }
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
    chunk_free(self->pending);
    chunk_free(self->spare);
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

static PyObject *set_add_helpers(PyObject *module, PyObject *args)
{
    PyObject *integer, *error;
    (void)module;
    if (!PyArg_ParseTuple(args, "OO:set_add_helpers", &integer, &error))
        return NULL;
    Py_INCREF(integer);
    Py_INCREF(error);
    Py_XDECREF(integer_type);
    Py_XDECREF(add_error);
    integer_type = integer;
    add_error = error;
    Py_RETURN_NONE;
}

static PyMethodDef stream_functions[] = {
    {"set_add_helpers", set_add_helpers, METH_VARARGS,
     "set_add_helpers(integer, error): what add() needs from Python: numpy.integer\n"
     "(what it takes besides int) and error(status, length, capacity), the\n"
     "exception for a status (seqpacker.stream._add_error)."},
    {"_interrupt_after", interrupt_after, METH_VARARGS,
     "_interrupt_after(countdown, period=0, call=None), for tests: the countdown-th next\n"
     "check for signals after a C stream call raises KeyboardInterrupt (and\n"
     "every period-th after it); 0 turns it off. With call, the check calls it\n"
     "instead (as a signal handler would run there); its exception is the check's."},
    {"_fail_after", fail_after, METH_VARARGS,
     "_fail_after(countdown, period=0), for tests: the countdown-th next allocation\n"
     "of packs (a chunk, or a result built of them) raises MemoryError (and every\n"
     "period-th after it); 0 turns it off."},
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
