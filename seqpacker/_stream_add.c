/*
 * _stream_add.c - StreamPacker.add() on its hot path, in the CPython API.
 *
 * Everything else of the Python package reaches the C library through
 * cffi (_native.py). add() cannot: one cffi call releases and retakes the
 * GIL, and turning what it returns into Pack objects takes Python code
 * around it, which together cost about ten times seqpacker 0.1.3's whole
 * add(). Here one method call does the add and builds the packs while
 * holding the GIL, so it also needs no lock of its own.
 *
 * This module has one job: StreamBase.add() for a plain int that the
 * stream accepts. Anything else goes to the Python method _add_slow(),
 * which converts other integer types (and calls add() again) or raises
 * the documented error. It uses only the public C API on the handle that
 * the cffi binding created (_bind_stream() passes its address and an
 * object that keeps it alive).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

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
        PyList_SET_ITEM(packs, (Py_ssize_t)p, pack);
    }
    return packs;
}

/* Move the unread packs out of the stream as a list of Pack objects. */
static PyObject *read_packs(StreamBase *self)
{
    int64_t small_items[SMALL_ITEMS], small_lengths[SMALL_ITEMS];
    int64_t small_offsets[SMALL_PACKS + 1], small_used[SMALL_PACKS];
    for (;;) {
        int64_t num_packs, num_items, got;
        int status = sp_stream_pending(self->stream, &num_packs, &num_items);
        if (status != SP_OK)
            return PyErr_Format(PyExc_RuntimeError,
                                "seqpacker C library error %d: %s", status,
                                sp_status_string(status));
        const int small = num_items <= SMALL_ITEMS && num_packs <= SMALL_PACKS;
        int64_t *items = small_items, *lengths = small_lengths;
        int64_t *offsets = small_offsets, *used = small_used;
        if (!small) {
            items = PyMem_New(int64_t, (size_t)num_items + 1);
            lengths = PyMem_New(int64_t, (size_t)num_items + 1);
            offsets = PyMem_New(int64_t, (size_t)num_packs + 1);
            used = PyMem_New(int64_t, (size_t)num_packs + 1);
        }
        PyObject *packs = NULL;
        if (items == NULL || lengths == NULL || offsets == NULL || used == NULL) {
            PyErr_NoMemory();
        } else {
            status = sp_stream_read(self->stream, items, lengths, num_items,
                                    offsets, used, num_packs, &got);
            if (status == SP_OK)
                packs = make_packs(self->pack_type, items, lengths, offsets,
                                   used, got);
            else if (status != SP_ERR_BUFFER_TOO_SMALL)
                PyErr_Format(PyExc_RuntimeError,
                             "seqpacker C library error %d: %s", status,
                             sp_status_string(status));
        }
        if (!small) {
            PyMem_Free(items);
            PyMem_Free(lengths);
            PyMem_Free(offsets);
            PyMem_Free(used);
        }
        /* Too small only when a thread inside a cffi call (which released
         * the GIL) closed more packs meanwhile: size again. */
        if (packs != NULL || PyErr_Occurred())
            return packs;
    }
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
    int64_t status = 0; /* 0: not tried (not an int64) */
    if (self->stream == NULL)
        return PyErr_Format(PyExc_RuntimeError,
                            "StreamPacker.__init__ was not called");
    if (PyLong_CheckExact(length)) {
        int overflow;
        long long value = PyLong_AsLongLongAndOverflow(length, &overflow);
        if (value == -1 && PyErr_Occurred())
            return NULL;
        if (!overflow) {
            int64_t unread = sp_stream_push(self->stream, (int64_t)value);
            if (unread == 0)
                return PyList_New(0);
            if (unread > 0)
                return read_packs(self);
            status = -unread; /* rejected: nothing changed */
        }
    }
    PyObject *code = PyLong_FromLongLong(status);
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

static PyTypeObject StreamBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "seqpacker._stream_add.StreamBase",
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
    .m_name = "seqpacker._stream_add",
    .m_doc = "StreamPacker.add() through the CPython API (see _stream_add.c).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__stream_add(void)
{
    add_slow_name = PyUnicode_InternFromString("_add_slow");
    if (add_slow_name == NULL || PyType_Ready(&StreamBaseType) < 0)
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
