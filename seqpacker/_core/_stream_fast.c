/*
 * _stream_fast.c - StreamPacker.add() in the CPython API, and the module
 * that also carries the Pack objects of a batch (_packs.c).
 *
 * Everything else of the Python package reaches the C library through
 * cffi (_native.py). add() cannot: one cffi call releases and retakes the
 * GIL, and turning what it returns into Pack objects takes Python code
 * around it, which together cost far more than the add itself, and add()
 * runs once per length. Here one method call does the add and builds the
 * packs while holding the GIL, so no other Python call can start on the
 * handle meanwhile; one already inside the C library (a cffi call releases
 * the GIL) makes the add return SP_ERR_BUSY, and _add_slow() then adds
 * under the handle's lock.
 *
 * StreamBase.add() handles a plain int that the stream accepts. Anything
 * else goes to the Python method _add_slow(), which converts other
 * integer types (and calls add() again), adds when the handle was busy,
 * or raises the documented error. While packs are pending (_pending, set
 * by stream.py when a call was interrupted after C moved its packs out),
 * add() goes there as if the handle were busy, so that the locked path
 * hands those packs out first.
 * It uses only the public C API, on the handle that the cffi binding
 * created (_bind_stream() passes its address and an object that keeps it
 * alive).
 *
 * Built against the limited C API of Python 3.9 (meson sets
 * Py_LIMITED_API), so that one abi3 build serves every CPython from 3.9
 * on: StreamBase comes from PyType_FromSpec, and add() takes METH_VARARGS
 * (METH_FASTCALL joins the limited API only in 3.10), which costs a tuple
 * per call; building each pack in C without a Python call (_packs.c) more
 * than pays for it. asv_benchmarks/compare_limited_api.py measures both.
 */
#include "_packs.h"

#include <structmember.h>

#include "seqpacker.h"

/* One add() closes at most two packs; these buffers take what it usually
 * reads without allocating. */
enum { SMALL_ITEMS = 256, SMALL_PACKS = 8 };

typedef struct {
    PyObject_HEAD
    sp_stream *stream;   /* owned by `owner` */
    PyObject *owner;     /* keeps `stream` alive */
    PyObject *pack_type; /* seqpacker.result.Pack */
    PyObject *pending;   /* _pending: NULL or None, or the pending packs */
} StreamBase;

static PyObject *add_slow_name;  /* "_add_slow", interned */
static PyObject *read_slow_name; /* "_read_slow", interned */
static PyObject *length_name;    /* "length", interned */

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
        return PyObject_CallMethodObjArgs((PyObject *)self, read_slow_name, NULL);
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
            packs = PyObject_CallMethodObjArgs((PyObject *)self, read_slow_name, NULL);
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

/* add(length): the packs it completed. */
static PyObject *stream_add(StreamBase *self, PyObject *args, PyObject *kwargs)
{
    PyObject *length = the_length(args, kwargs);
    if (length == NULL)
        return NULL;
    int status = 0; /* 0: not tried (not an int64) */
    if (self->stream == NULL)
        return PyErr_Format(PyExc_RuntimeError,
                            "StreamPacker.__init__ was not called");
    if (self->pending != NULL && self->pending != Py_None)
        status = SP_ERR_BUSY; /* the locked path hands the pending packs out */
    else if (PyLong_CheckExact(length)) {
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
    PyObject *result = PyObject_CallMethodObjArgs((PyObject *)self, add_slow_name,
                                                  length, code, NULL);
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
    if (!is_pack_type(pack_type, "pack_type"))
        return NULL;
    PyObject *old_owner = self->owner, *old_pack_type = self->pack_type;
    Py_INCREF(owner);
    Py_INCREF(pack_type);
    self->owner = owner;
    self->pack_type = pack_type;
    self->stream = (sp_stream *)(uintptr_t)address;
    Py_XDECREF(old_owner);
    Py_XDECREF(old_pack_type);
    Py_RETURN_NONE;
}

static int stream_traverse(StreamBase *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self)); /* a heap type: its instances hold it */
    Py_VISIT(self->owner);
    Py_VISIT(self->pack_type);
    Py_VISIT(self->pending);
    return 0;
}

static int stream_clear(StreamBase *self)
{
    self->stream = NULL; /* before its owner can go */
    Py_CLEAR(self->owner);
    Py_CLEAR(self->pack_type);
    Py_CLEAR(self->pending);
    return 0;
}

static void stream_dealloc(StreamBase *self)
{
    PyTypeObject *type = Py_TYPE(self);
    freefunc tp_free = (freefunc)PyType_GetSlot(type, Py_tp_free);
    PyObject_GC_UnTrack(self);
    stream_clear(self);
    tp_free(self);
    Py_DECREF(type);
}

static PyMethodDef stream_methods[] = {
    {"add", (PyCFunction)(void (*)(void))stream_add,
     METH_VARARGS | METH_KEYWORDS,
     "add($self, length)\n--\n\n"
     "Add one length; returns the packs it completed (often none)."},
    {"_bind_stream", (PyCFunction)stream_bind, METH_VARARGS,
     "_bind_stream(address, owner, pack_type): the sp_stream at address, "
     "kept alive by owner; packs are built as pack_type objects (a PackBase\n"
     "subclass)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef stream_members[] = {
    {"_pending", T_OBJECT, offsetof(StreamBase, pending), 0,
     "Packs moved out of C by an interrupted call, not handed out yet "
     "(None for none); stream.py sets it under the stream's lock."},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot stream_slots[] = {
    {Py_tp_doc, (void *)"StreamPacker's base: add() in C."},
    {Py_tp_new, (void *)PyType_GenericNew},
    {Py_tp_dealloc, (void *)stream_dealloc},
    {Py_tp_traverse, (void *)stream_traverse},
    {Py_tp_clear, (void *)stream_clear},
    {Py_tp_methods, stream_methods},
    {Py_tp_members, stream_members},
    {0, NULL},
};

static PyType_Spec stream_spec = {
    .name = "seqpacker._core._stream_fast.StreamBase",
    .basicsize = sizeof(StreamBase),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = stream_slots,
};

static struct PyModuleDef stream_add_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "seqpacker._core._stream_fast",
    .m_doc = "StreamPacker's hot paths through the CPython API (see _stream_fast.c).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__stream_fast(void)
{
    add_slow_name = PyUnicode_InternFromString("_add_slow");
    read_slow_name = PyUnicode_InternFromString("_read_slow");
    length_name = PyUnicode_InternFromString("length");
    if (add_slow_name == NULL || read_slow_name == NULL || length_name == NULL)
        return NULL;
    PyObject *module = PyModule_Create(&stream_add_module);
    if (module == NULL)
        return NULL;
    if (packs_add_to_module(module) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    PyObject *type = PyType_FromSpec(&stream_spec);
    /* PyModule_AddObject takes the reference only when it succeeds. */
    if (type == NULL || PyModule_AddObject(module, "StreamBase", type) < 0) {
        Py_XDECREF(type);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
