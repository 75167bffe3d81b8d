/*
 * _stream_fast.c - the hot paths of StreamPacker in the CPython API:
 * add(), and the Pack objects of a batch (packs_from_arrays()).
 *
 * Everything else of the Python package reaches the C library through
 * cffi (_native.py). add() cannot: one cffi call releases and retakes the
 * GIL, and turning what it returns into Pack objects takes Python code
 * around it, which together cost about ten times seqpacker 0.1.3's whole
 * add(). Here one method call does the add and builds the packs while
 * holding the GIL, so no other Python call can start on the handle
 * meanwhile; one already inside the C library (a cffi call releases the
 * GIL) makes the add return SP_ERR_BUSY, and _add_slow() then adds under
 * the handle's lock.
 *
 * The same goes for many packs at once (add_many(), PackResult.packs):
 * NumPy's tolist(), list slicing and a Python call per Pack cost about
 * four times what packs_from_arrays() does in one pass; and for the id
 * lists of PackResult.bins (bins_from_arrays()).
 *
 * StreamBase.add() handles a plain int that the stream accepts. Anything
 * else goes to the Python method _add_slow(), which converts other
 * integer types (and calls add() again), adds when the handle was busy,
 * or raises the documented error.
 * It uses only the public C API, on the handle that the cffi binding
 * created (_bind_stream() passes its address and an object that keeps it
 * alive).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "seqpacker.h"

/* One add() closes at most two packs; these buffers take what it usually
 * reads without allocating. */
enum { SMALL_ITEMS = 256, SMALL_PACKS = 8 };

typedef struct {
    PyObject_HEAD
    sp_stream *stream;   /* owned by `owner` */
    PyObject *owner;     /* keeps `stream` alive */
    PyObject *pack_type; /* seqpacker.result.Pack */
} StreamBase;

static PyObject *add_slow_name; /* "_add_slow", interned */

/* A list of ints, untracked by the cyclic garbage collector: holding only
 * ints it can never be part of a cycle. Tracked, the collector's passes
 * over a million packs' lists took ten times as long as building them. */
static PyObject *int64_list(const int64_t *values, int64_t n)
{
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (int64_t j = 0; list != NULL && j < n; j++) {
        PyObject *value = PyLong_FromLongLong(values[j]);
        if (value == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)j, value);
    }
    if (list != NULL)
        PyObject_GC_UnTrack(list);
    return list;
}

/* Pack objects for the packs read into these buffers. */
static PyObject *make_packs(PyObject *pack_type, const int64_t *items,
                            const int64_t *lengths, const int64_t *offsets,
                            const int64_t *used, int64_t num_packs)
{
    PyObject *packs = PyList_New((Py_ssize_t)num_packs);
    for (int64_t p = 0; packs != NULL && p < num_packs; p++) {
        const int64_t at = offsets[p], count = offsets[p + 1] - at;
        PyObject *args[3] = {int64_list(items + at, count),
                             int64_list(lengths + at, count),
                             PyLong_FromLongLong(used[p])};
        PyObject *pack = NULL;
        if (args[0] != NULL && args[1] != NULL && args[2] != NULL)
            pack = PyObject_Vectorcall(pack_type, args, 3, NULL);
        for (int i = 0; i < 3; i++)
            Py_XDECREF(args[i]);
        if (pack == NULL) {
            Py_CLEAR(packs);
            break;
        }
        /* It holds two lists of ints that only it sees, and an int: no
         * cycle can pass through it (see int64_list). */
        if (PyObject_IS_GC(pack))
            PyObject_GC_UnTrack(pack);
        PyList_SET_ITEM(packs, (Py_ssize_t)p, pack);
    }
    return packs;
}

static PyObject *read_slow_name; /* "_read_slow", interned */

/* Move the unread packs out of the stream as a list of Pack objects, right
 * after an add. A cffi call of another thread that released the GIL just
 * before entering the library can still hold the handle, or close packs
 * between the two calls here: then the Python method _read_slow() reads
 * them under the stream's lock. */
static PyObject *read_packs(StreamBase *self)
{
    int64_t small_items[SMALL_ITEMS], small_lengths[SMALL_ITEMS];
    int64_t small_offsets[SMALL_PACKS + 1], small_used[SMALL_PACKS];
    sp_stream_info info;
    int status = sp_stream_get_info(self->stream, &info);
    if (status == SP_ERR_BUSY)
        return PyObject_CallMethodNoArgs((PyObject *)self, read_slow_name);
    if (status != SP_OK)
        return PyErr_Format(PyExc_RuntimeError,
                            "seqpacker C library error %d: %s", status,
                            sp_status_string(status));
    const int64_t num_items = info.unread_items, num_packs = info.unread_packs;
    const int small = num_items <= SMALL_ITEMS && num_packs <= SMALL_PACKS;
    sp_pack_buffers out = {small_items, small_lengths, num_items, small_offsets,
                           small_used, num_packs, 0};
    if (!small) {
        out.items = PyMem_New(int64_t, (size_t)num_items + 1);
        out.lengths = PyMem_New(int64_t, (size_t)num_items + 1);
        out.bin_offsets = PyMem_New(int64_t, (size_t)num_packs + 1);
        out.bin_used = PyMem_New(int64_t, (size_t)num_packs + 1);
    }
    PyObject *packs = NULL;
    if (out.items == NULL || out.lengths == NULL || out.bin_offsets == NULL ||
        out.bin_used == NULL) {
        PyErr_NoMemory();
    } else {
        status = sp_stream_read(self->stream, &out);
        if (status == SP_OK)
            packs = make_packs(self->pack_type, out.items, out.lengths,
                               out.bin_offsets, out.bin_used, out.num_packs);
        else if (status == SP_ERR_BUSY || status == SP_ERR_BUFFER_TOO_SMALL)
            packs = PyObject_CallMethodNoArgs((PyObject *)self, read_slow_name);
        else
            PyErr_Format(PyExc_RuntimeError, "seqpacker C library error %d: %s",
                         status, sp_status_string(status));
    }
    if (!small) {
        PyMem_Free(out.items);
        PyMem_Free(out.lengths);
        PyMem_Free(out.bin_offsets);
        PyMem_Free(out.bin_used);
    }
    return packs;
}

/* add(length), also as add(length=...) as in seqpacker 0.1.3. */
static PyObject *stream_add(StreamBase *self, PyObject *const *args,
                            Py_ssize_t nargs, PyObject *kwnames)
{
    const Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    if (nargs + nkw != 1 ||
        (nkw == 1 &&
         PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "length") != 0))
        return PyErr_Format(PyExc_TypeError,
                            "add() takes exactly one argument, length");
    PyObject *length = args[0];
    int status = 0; /* 0: not tried (not an int64) */
    if (self->stream == NULL)
        return PyErr_Format(PyExc_RuntimeError,
                            "StreamPacker.__init__ was not called");
    if (PyLong_CheckExact(length)) {
        int overflow;
        long long value = PyLong_AsLongLongAndOverflow(length, &overflow);
        if (value == -1 && PyErr_Occurred())
            return NULL;
        if (!overflow) {
            int64_t unread;
            status = sp_stream_add(self->stream, (int64_t)value, &unread);
            if (status == SP_OK)
                return unread == 0 ? PyList_New(0) : read_packs(self);
            /* Rejected (or busy): nothing changed; _add_slow says why. */
        }
    }
    PyObject *code = PyLong_FromLong(status);
    if (code == NULL)
        return NULL;
    PyObject *slow_args[3] = {(PyObject *)self, length, code};
    PyObject *result = PyObject_VectorcallMethod(
        add_slow_name, slow_args, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(code);
    return result;
}

static PyObject *stream_bind(StreamBase *self, PyObject *args)
{
    unsigned long long address;
    PyObject *owner, *pack_type;
    if (!PyArg_ParseTuple(args, "KOO:_bind_stream", &address, &owner, &pack_type))
        return NULL;
    if (address == 0)
        return PyErr_Format(PyExc_ValueError, "no stream to bind");
    Py_INCREF(owner);
    Py_INCREF(pack_type);
    Py_XSETREF(self->owner, owner);
    Py_XSETREF(self->pack_type, pack_type);
    self->stream = (sp_stream *)(uintptr_t)address;
    Py_RETURN_NONE;
}

static int stream_traverse(StreamBase *self, visitproc visit, void *arg)
{
    Py_VISIT(self->owner);
    Py_VISIT(self->pack_type);
    return 0;
}

static int stream_clear(StreamBase *self)
{
    self->stream = NULL; /* before its owner can go */
    Py_CLEAR(self->owner);
    Py_CLEAR(self->pack_type);
    return 0;
}

static void stream_dealloc(StreamBase *self)
{
    PyObject_GC_UnTrack(self);
    stream_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef stream_methods[] = {
    {"add", (PyCFunction)(void (*)(void))stream_add,
     METH_FASTCALL | METH_KEYWORDS,
     "add($self, length)\n--\n\n"
     "Add one length; returns the packs it completed (often none)."},
    {"_bind_stream", (PyCFunction)stream_bind, METH_VARARGS,
     "_bind_stream(address, owner, pack_type): the sp_stream at address, "
     "kept alive by owner; packs are built as pack_type(ids, lengths, used)."},
    {NULL, NULL, 0, NULL},
};

/* One int64 array argument: C-contiguous, 8-byte integers. */
static int get_int64_buffer(PyObject *obj, Py_buffer *view, const char *name)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    const char *f = view->format;
    if (f[0] == '<' || f[0] == '=' || f[0] == '@')
        f++;
    if (view->itemsize != 8 || (strcmp(f, "q") != 0 && strcmp(f, "l") != 0) ||
        view->ndim != 1) {
        PyErr_Format(PyExc_TypeError, "%s must be a 1-d int64 array", name);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* packs_from_arrays(pack_type, items, lengths, offsets, used): the Pack of
 * every bin, bin b holding items[offsets[b]:offsets[b + 1]]. */
static PyObject *packs_from_arrays(PyObject *module, PyObject *const *args,
                                   Py_ssize_t nargs)
{
    static const char *names[4] = {"items", "lengths", "offsets", "used"};
    Py_buffer views[4];
    int got = 0;
    PyObject *packs = NULL;
    (void)module;
    if (nargs != 5)
        return PyErr_Format(PyExc_TypeError,
                            "packs_from_arrays() takes 5 arguments");
    for (; got < 4; got++)
        if (get_int64_buffer(args[got + 1], &views[got], names[got]) < 0)
            goto done;
    const int64_t *items = views[0].buf, *lengths = views[1].buf;
    const int64_t *offsets = views[2].buf, *used = views[3].buf;
    const Py_ssize_t num_items = views[0].shape[0];
    const Py_ssize_t num_packs = views[3].shape[0];
    /* Every bin inside items: checked first, so nothing is read out of
     * bounds whatever the caller passes. */
    int valid = views[1].shape[0] == num_items &&
                views[2].shape[0] == num_packs + 1 && offsets[0] == 0;
    for (Py_ssize_t b = 0; valid && b < num_packs; b++)
        valid = offsets[b] <= offsets[b + 1] && offsets[b + 1] <= num_items;
    if (!valid) {
        PyErr_SetString(PyExc_ValueError,
                        "packs_from_arrays(): offsets do not split items");
        goto done;
    }
    packs = make_packs(args[0], items, lengths, offsets, used, num_packs);
done:
    while (got-- > 0)
        PyBuffer_Release(&views[got]);
    return packs;
}

/* bins_from_arrays(items, offsets): [items[offsets[b]:offsets[b + 1]] as a
 * list of ints for every bin b]. The lists are handed to the user, so they
 * end up tracked by the cyclic garbage collector like any list; but they
 * are built untracked and tracked only once all exist, so the collections
 * that the allocations trigger meanwhile do not walk them again and again
 * (that took 2-3 times as long as building them), without pausing the
 * collector for the whole process. */
static PyObject *bins_from_arrays(PyObject *module, PyObject *const *args,
                                  Py_ssize_t nargs)
{
    static const char *names[2] = {"items", "offsets"};
    Py_buffer views[2];
    int got = 0;
    PyObject *bins = NULL;
    (void)module;
    if (nargs != 2)
        return PyErr_Format(PyExc_TypeError, "bins_from_arrays() takes 2 arguments");
    for (; got < 2; got++)
        if (get_int64_buffer(args[got], &views[got], names[got]) < 0)
            goto done;
    const int64_t *items = views[0].buf, *offsets = views[1].buf;
    const Py_ssize_t num_items = views[0].shape[0];
    const Py_ssize_t num_bins = views[1].shape[0] - 1;
    int valid = num_bins >= 0 && offsets[0] == 0;
    for (Py_ssize_t b = 0; valid && b < num_bins; b++)
        valid = offsets[b] <= offsets[b + 1] && offsets[b + 1] <= num_items;
    if (!valid) {
        PyErr_SetString(PyExc_ValueError, "bins_from_arrays(): offsets do not split items");
        goto done;
    }
    bins = PyList_New(num_bins);
    for (Py_ssize_t b = 0; bins != NULL && b < num_bins; b++) {
        PyObject *bin = int64_list(items + offsets[b], offsets[b + 1] - offsets[b]);
        if (bin == NULL)
            Py_CLEAR(bins);
        else
            PyList_SET_ITEM(bins, b, bin);
    }
    for (Py_ssize_t b = 0; bins != NULL && b < num_bins; b++)
        PyObject_GC_Track(PyList_GET_ITEM(bins, b));
done:
    while (got-- > 0)
        PyBuffer_Release(&views[got]);
    return bins;
}

static PyMethodDef module_functions[] = {
    {"bins_from_arrays", (PyCFunction)(void (*)(void))bins_from_arrays, METH_FASTCALL,
     "bins_from_arrays(items, offsets) -> list\n\n"
     "items[offsets[b]:offsets[b + 1]] as a list of ints for every bin b\n"
     "(int64 arrays)."},
    {"packs_from_arrays", (PyCFunction)(void (*)(void))packs_from_arrays,
     METH_FASTCALL,
     "packs_from_arrays(pack_type, items, lengths, offsets, used) -> list\n\n"
     "pack_type(ids, lengths, used) for every bin b, whose ids are\n"
     "items[offsets[b]:offsets[b + 1]] (int64 arrays; lists in the packs)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject StreamBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "seqpacker._stream_fast.StreamBase",
    .tp_doc = "StreamPacker's base: add() in C.",
    .tp_basicsize = sizeof(StreamBase),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)stream_dealloc,
    .tp_traverse = (traverseproc)stream_traverse,
    .tp_clear = (inquiry)stream_clear,
    .tp_methods = stream_methods,
};

static struct PyModuleDef stream_add_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "seqpacker._stream_fast",
    .m_doc = "StreamPacker's hot paths through the CPython API (see _stream_fast.c).",
    .m_size = -1,
    .m_methods = module_functions,
};

PyMODINIT_FUNC PyInit__stream_fast(void)
{
    add_slow_name = PyUnicode_InternFromString("_add_slow");
    read_slow_name = PyUnicode_InternFromString("_read_slow");
    if (add_slow_name == NULL || read_slow_name == NULL || PyType_Ready(&StreamBaseType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&stream_add_module);
    if (module == NULL)
        return NULL;
    Py_INCREF(&StreamBaseType); /* PyModule_AddObject steals it (3.9) */
    if (PyModule_AddObject(module, "StreamBase", (PyObject *)&StreamBaseType) < 0) {
        Py_DECREF(&StreamBaseType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
