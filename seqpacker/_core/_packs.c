/*
 * _packs.c - Pack objects and id lists from int64 arrays, in one pass in C.
 *
 * Python objects per bin are the slowest part of any result. For many packs
 * at once (add_many(), PackResult.packs), NumPy's tolist(), list slicing
 * and a Python call per Pack cost more than the one pass in C of
 * packs_from_arrays(); the same goes for the id lists of PackResult.bins
 * (bins_from_arrays()), and for the packs that one StreamPacker.add()
 * closes (make_packs(), called by _stream.c).
 *
 * A Pack's fields live in the C type PackBase, which seqpacker.result.Pack
 * subclasses (adding only Python properties): a pack is allocated and
 * filled here, without calling Pack() and running a Python __init__,
 * which cost more than building its two lists.
 *
 * Built against the limited C API of Python 3.9 (meson sets
 * Py_LIMITED_API): PackBase comes from PyType_FromSpec, lists are filled
 * through PyList_SetItem, and arrays are read through NumPy's
 * __array_struct__ (the buffer protocol joins the limited API only in
 * 3.11).
 */
#include "_ext.h"

#include <stddef.h>
#include <structmember.h>

/* ---- Pack objects ---------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *sequence_ids; /* a list of ints */
    PyObject *lengths;      /* a list of ints, one per id */
    PyObject *used;         /* an int */
} PackBase;

static PyTypeObject *pack_base_type;

/* A new object of `type` (PackBase or a subclass) holding the three
 * values, whose references it steals (any of them NULL: NULL). */
static PyObject *new_pack(PyTypeObject *type, allocfunc alloc, PyObject *sequence_ids,
                          PyObject *lengths, PyObject *used)
{
    PackBase *pack = NULL;
    if (sequence_ids != NULL && lengths != NULL && used != NULL)
        pack = (PackBase *)alloc(type, 0);
    if (pack == NULL) {
        Py_XDECREF(sequence_ids);
        Py_XDECREF(lengths);
        Py_XDECREF(used);
        return NULL;
    }
    pack->sequence_ids = sequence_ids;
    pack->lengths = lengths;
    pack->used = used;
    return (PyObject *)pack;
}

/* PackBase(sequence_ids, lengths, used): the values are kept as given. */
static PyObject *pack_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"sequence_ids", "lengths", "used", NULL};
    PyObject *sequence_ids, *lengths, *used;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO:Pack", keywords, &sequence_ids,
                                     &lengths, &used))
        return NULL;
    Py_INCREF(sequence_ids);
    Py_INCREF(lengths);
    Py_INCREF(used);
    return new_pack(type, (allocfunc)PyType_GetSlot(type, Py_tp_alloc), sequence_ids,
                    lengths, used);
}

static int pack_traverse(PackBase *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self)); /* a heap type: its instances hold it */
    Py_VISIT(self->sequence_ids);
    Py_VISIT(self->lengths);
    Py_VISIT(self->used);
    return 0;
}

static int pack_clear(PackBase *self)
{
    Py_CLEAR(self->sequence_ids);
    Py_CLEAR(self->lengths);
    Py_CLEAR(self->used);
    return 0;
}

static void pack_dealloc(PackBase *self)
{
    PyTypeObject *type = Py_TYPE(self);
    freefunc tp_free = (freefunc)PyType_GetSlot(type, Py_tp_free);
    PyObject_GC_UnTrack(self);
    pack_clear(self);
    tp_free(self);
    Py_DECREF(type);
}

static PyMemberDef pack_members[] = {
    {"_sequence_ids", T_OBJECT_EX, offsetof(PackBase, sequence_ids), READONLY, NULL},
    {"_lengths", T_OBJECT_EX, offsetof(PackBase, lengths), READONLY, NULL},
    {"_used", T_OBJECT_EX, offsetof(PackBase, used), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot pack_slots[] = {
    {Py_tp_doc, (void *)"PackBase(sequence_ids, lengths, used)\n--\n\n"
                        "The fields of a Pack (seqpacker.result.Pack), set once."},
    {Py_tp_new, (void *)pack_tp_new},
    {Py_tp_dealloc, (void *)pack_dealloc},
    {Py_tp_traverse, (void *)pack_traverse},
    {Py_tp_clear, (void *)pack_clear},
    {Py_tp_members, pack_members},
    {0, NULL},
};

static PyType_Spec pack_spec = {
    .name = "seqpacker._core._ext.PackBase",
    .basicsize = sizeof(PackBase),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = pack_slots,
};

int is_pack_type(PyObject *obj, const char *what)
{
    if (PyType_Check(obj) && PyType_IsSubtype((PyTypeObject *)obj, pack_base_type))
        return 1;
    PyErr_Format(PyExc_TypeError, "%s must be a subclass of PackBase", what);
    return 0;
}

/* A list of ints, untracked by the cyclic garbage collector: holding only
 * ints it can never be part of a cycle. Tracked, it would be walked again
 * by every collection that later allocations trigger, which over many
 * packs costs more than building the lists. */
static PyObject *int64_list(const int64_t *values, int64_t n)
{
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (int64_t j = 0; list != NULL && j < n; j++) {
        PyObject *value = PyLong_FromLongLong(values[j]);
        if (value == NULL || PyList_SetItem(list, (Py_ssize_t)j, value) < 0) {
            Py_CLEAR(list);
            break;
        }
    }
    if (list != NULL)
        PyObject_GC_UnTrack(list);
    return list;
}

PyObject *make_packs(PyObject *pack_type, const int64_t *items, const int64_t *lengths,
                     const int64_t *offsets, const int64_t *used, int64_t num_packs)
{
    PyTypeObject *type = (PyTypeObject *)pack_type;
    allocfunc alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    PyObject *packs = PyList_New((Py_ssize_t)num_packs);
    for (int64_t p = 0; packs != NULL && p < num_packs; p++) {
        const int64_t at = offsets[p], count = offsets[p + 1] - at;
        PyObject *pack = new_pack(type, alloc, int64_list(items + at, count),
                                  int64_list(lengths + at, count),
                                  PyLong_FromLongLong(used[p]));
        /* It holds two lists of ints that only it sees, and an int: no
         * cycle can pass through it (see int64_list). */
        if (pack != NULL)
            PyObject_GC_UnTrack(pack);
        if (pack == NULL || PyList_SetItem(packs, (Py_ssize_t)p, pack) < 0)
            Py_CLEAR(packs);
    }
    return packs;
}

/* ---- int64 arrays ---------------------------------------------------- */

/* What NumPy's __array_struct__ capsule points to: the C side of the
 * array interface, a layout NumPy documents and keeps (its
 * PyArrayInterface), declared here so that no NumPy header is needed. */
typedef struct {
    int two; /* 2, a sanity check */
    int nd;
    char typekind;
    int itemsize;
    int flags;
    Py_intptr_t *shape;
    Py_intptr_t *strides;
    void *data;
    PyObject *descr;
} ArrayInterface;

enum {
    ARRAY_C_CONTIGUOUS = 0x1,
    ARRAY_ALIGNED = 0x100,
    ARRAY_NOTSWAPPED = 0x200,
};

static PyObject *array_struct_name; /* "__array_struct__", interned */

/* One int64 array argument, read in place: a 1-d, C-contiguous, aligned
 * array of native 8-byte signed integers. *holder keeps its memory valid
 * until released (Py_DECREF); *size is its length. */
const int64_t *int64_array(PyObject *obj, const char *name, PyObject **holder,
                           Py_ssize_t *size)
{
    PyObject *capsule = PyObject_GetAttr(obj, array_struct_name);
    const ArrayInterface *array = NULL;
    if (capsule == NULL) {
        PyErr_Clear();
    } else {
        array = PyCapsule_GetPointer(capsule, NULL);
        if (array == NULL)
            PyErr_Clear();
    }
    if (array == NULL || array->two != 2 || array->nd != 1 || array->typekind != 'i' ||
        array->itemsize != 8 || !(array->flags & ARRAY_NOTSWAPPED)) {
        Py_XDECREF(capsule);
        PyErr_Format(PyExc_TypeError, "%s must be a 1-d int64 array", name);
        return NULL;
    }
    if ((array->flags & (ARRAY_C_CONTIGUOUS | ARRAY_ALIGNED)) !=
        (ARRAY_C_CONTIGUOUS | ARRAY_ALIGNED)) {
        Py_DECREF(capsule);
        PyErr_Format(PyExc_ValueError, "%s is not C-contiguous and aligned", name);
        return NULL;
    }
    *holder = capsule;
    *size = (Py_ssize_t)array->shape[0];
    return array->data;
}

/* The int64 arrays args[first], args[first + 1], ... into arrays[] and
 * sizes[], held by holders[] (all released on failure). */
static int int64_arrays(PyObject *args, Py_ssize_t first, int count, const char *const *names,
                        const int64_t **arrays, Py_ssize_t *sizes, PyObject **holders)
{
    for (int i = 0; i < count; i++) {
        arrays[i] = int64_array(PyTuple_GetItem(args, first + i), names[i], &holders[i],
                                &sizes[i]);
        if (arrays[i] == NULL) {
            while (i-- > 0)
                Py_DECREF(holders[i]);
            return -1;
        }
    }
    return 0;
}

static void release(PyObject **holders, int count)
{
    for (int i = 0; i < count; i++)
        Py_DECREF(holders[i]);
}

/* offsets[0..num_bins] split items[0..num_items): every bin inside items,
 * checked before any is read, so nothing is read out of bounds whatever
 * the caller passes. */
static int offsets_split(const int64_t *offsets, Py_ssize_t num_bins, Py_ssize_t num_items)
{
    int valid = num_bins >= 0 && offsets[0] == 0;
    for (Py_ssize_t b = 0; valid && b < num_bins; b++)
        valid = offsets[b] <= offsets[b + 1] && offsets[b + 1] <= num_items;
    return valid;
}

/* ---- module functions ------------------------------------------------ */

/* packs_from_arrays(pack_type, items, lengths, offsets, used): the Pack of
 * every bin, bin b holding items[offsets[b]:offsets[b + 1]]. */
static PyObject *packs_from_arrays(PyObject *module, PyObject *args)
{
    static const char *const names[4] = {"items", "lengths", "offsets", "used"};
    const int64_t *arrays[4];
    Py_ssize_t sizes[4];
    PyObject *holders[4];
    (void)module;
    if (PyTuple_Size(args) != 5)
        return PyErr_Format(PyExc_TypeError, "packs_from_arrays() takes 5 arguments");
    PyObject *pack_type = PyTuple_GetItem(args, 0);
    if (!is_pack_type(pack_type, "pack_type") ||
        int64_arrays(args, 1, 4, names, arrays, sizes, holders) < 0)
        return NULL;
    PyObject *packs = NULL;
    const Py_ssize_t num_items = sizes[0], num_packs = sizes[3];
    if (sizes[1] != num_items || sizes[2] != num_packs + 1 ||
        !offsets_split(arrays[2], num_packs, num_items))
        PyErr_SetString(PyExc_ValueError, "packs_from_arrays(): offsets do not split items");
    else
        packs = make_packs(pack_type, arrays[0], arrays[1], arrays[2], arrays[3], num_packs);
    release(holders, 4);
    return packs;
}

/* bins_from_arrays(items, offsets): [items[offsets[b]:offsets[b + 1]] as a
 * list of ints for every bin b]. The lists are handed to the user, so they
 * end up tracked by the cyclic garbage collector like any list; but they
 * are built untracked and tracked only once all exist, so the collections
 * that the allocations trigger meanwhile do not walk them again and again,
 * without pausing the collector for the whole process. */
static PyObject *bins_from_arrays(PyObject *module, PyObject *args)
{
    static const char *const names[2] = {"items", "offsets"};
    const int64_t *arrays[2];
    Py_ssize_t sizes[2];
    PyObject *holders[2];
    (void)module;
    if (PyTuple_Size(args) != 2)
        return PyErr_Format(PyExc_TypeError, "bins_from_arrays() takes 2 arguments");
    if (int64_arrays(args, 0, 2, names, arrays, sizes, holders) < 0)
        return NULL;
    const int64_t *items = arrays[0], *offsets = arrays[1];
    const Py_ssize_t num_bins = sizes[1] - 1;
    PyObject *bins = NULL;
    if (!offsets_split(offsets, num_bins, sizes[0]))
        PyErr_SetString(PyExc_ValueError, "bins_from_arrays(): offsets do not split items");
    else
        bins = PyList_New(num_bins);
    for (Py_ssize_t b = 0; bins != NULL && b < num_bins; b++) {
        PyObject *bin = int64_list(items + offsets[b], offsets[b + 1] - offsets[b]);
        if (bin == NULL || PyList_SetItem(bins, b, bin) < 0)
            Py_CLEAR(bins);
    }
    for (Py_ssize_t b = 0; bins != NULL && b < num_bins; b++)
        PyObject_GC_Track(PyList_GetItem(bins, b));
    release(holders, 2);
    return bins;
}

static PyMethodDef packs_functions[] = {
    {"bins_from_arrays", bins_from_arrays, METH_VARARGS,
     "bins_from_arrays(items, offsets) -> list\n\n"
     "items[offsets[b]:offsets[b + 1]] as a list of ints for every bin b\n"
     "(int64 arrays)."},
    {"packs_from_arrays", packs_from_arrays, METH_VARARGS,
     "packs_from_arrays(pack_type, items, lengths, offsets, used) -> list\n\n"
     "A pack_type (a PackBase subclass) for every bin b, whose ids are\n"
     "items[offsets[b]:offsets[b + 1]] (int64 arrays; lists in the packs)."},
    {NULL, NULL, 0, NULL},
};

int packs_add_to_module(PyObject *module)
{
    array_struct_name = PyUnicode_InternFromString("__array_struct__");
    if (array_struct_name == NULL || PyModule_AddFunctions(module, packs_functions) < 0)
        return -1;
    pack_base_type = (PyTypeObject *)PyType_FromSpec(&pack_spec);
    if (pack_base_type == NULL)
        return -1;
    /* The module keeps a reference of its own (PyModule_AddObject takes the
     * one it is given only when it succeeds). */
    Py_INCREF(pack_base_type);
    if (PyModule_AddObject(module, "PackBase", (PyObject *)pack_base_type) < 0) {
        Py_DECREF(pack_base_type);
        return -1;
    }
    return 0;
}
