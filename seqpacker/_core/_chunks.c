/*
 * _chunks.c - the arrays that packs move into out of a C stream.
 *
 * A call reads packs into a Chunk and builds its result from it; packs it
 * cannot hand out (an interrupt or a failed allocation after the C call)
 * stay in the stream's list of pending chunks, in order, until a later
 * call hands them out or a pickle keeps them (see _stream_pending.c).
 * Each chunk is allocated before C writes into it, so that keeping its
 * packs only links it: no path that holds packs allocates.
 */
#include "_chunks.h"

#include <stdlib.h>
#include <string.h>

/* Large arrays, once freed, are kept for the next ones, up to SPARE_BYTES
 * in all: a stream fed chunk by chunk (add_many_flat hands its arrays to
 * NumPy, which frees them) would otherwise have every page of its arrays
 * faulted in anew by each call, which costs more than the packing. Large
 * sizes are rounded up to LARGE_BYTES, so that chunks of about the same
 * size fit each other's arrays. Used with the GIL held. */
#define LARGE_BYTES ((size_t)1 << 20)
#define SPARE_BYTES ((size_t)64 << 20)
enum { SPARES = 8 };
static int64_t *spares[SPARES]; /* blocks of int64_alloc(), header first */
static size_t spare_bytes;

/* Room for n int64 values (at least one), freed with int64_free(); NULL
 * when out of memory. The word before them holds the block's size. */
static int64_t *int64_alloc(int64_t n)
{
    if (n < 0 || (uint64_t)n >= PTRDIFF_MAX / 8 - LARGE_BYTES)
        return NULL;
    size_t bytes = ((size_t)n + 2) * 8;
    int best = -1;
    if (bytes >= LARGE_BYTES) {
        bytes = (bytes + LARGE_BYTES - 1) / LARGE_BYTES * LARGE_BYTES;
        for (int i = 0; i < SPARES; i++)
            if (spares[i] != NULL && (size_t)spares[i][0] >= bytes &&
                (best < 0 || spares[i][0] < spares[best][0]))
                best = i;
    }
    int64_t *block = best >= 0 ? spares[best] : malloc(bytes);
    if (best >= 0) {
        spares[best] = NULL;
        spare_bytes -= (size_t)block[0];
    } else if (block != NULL) {
        block[0] = (int64_t)bytes;
    }
    return block == NULL ? NULL : block + 1;
}

static void int64_free(int64_t *values)
{
    if (values == NULL)
        return;
    int64_t *block = values - 1;
    const size_t bytes = (size_t)block[0];
    for (int i = 0; i < SPARES && bytes >= LARGE_BYTES && spare_bytes + bytes <= SPARE_BYTES;
         i++)
        if (spares[i] == NULL) {
            spares[i] = block;
            spare_bytes += bytes;
            return;
        }
    free(block);
}

/* ---- Int64Array: an array that NumPy reads in place ---------------------- */

typedef struct {
    PyObject_HEAD
    int64_t *values; /* int64_alloc() memory, owned */
    int64_t size;
} Int64Array;

static PyTypeObject *int64_array_type;

/* __array_interface__ (version 3): NumPy makes an array of it whose base
 * is this object, so the memory lives as long as the array. */
static PyObject *array_interface(Int64Array *self, void *closure)
{
    (void)closure;
    return Py_BuildValue("{s:(NO),s:(L),s:s,s:i}", "data",
                         PyLong_FromVoidPtr(self->values), Py_False, "shape",
                         (long long)self->size, "typestr",
                         PY_LITTLE_ENDIAN ? "<i8" : ">i8", "version", 3);
}

static void array_dealloc(Int64Array *self)
{
    PyTypeObject *type = Py_TYPE(self);
    freefunc tp_free = (freefunc)PyType_GetSlot(type, Py_tp_free);
    int64_free(self->values);
    tp_free(self);
    Py_DECREF(type);
}

static PyGetSetDef array_getset[] = {
    {"__array_interface__", (getter)array_interface, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot array_slots[] = {
    {Py_tp_doc, (void *)"int64 values written by the C library, for np.asarray()."},
    {Py_tp_dealloc, (void *)array_dealloc},
    {Py_tp_getset, array_getset},
    {0, NULL},
};

static PyType_Spec array_spec = {
    .name = "seqpacker._core._ext.Int64Array",
    .basicsize = sizeof(Int64Array),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = array_slots,
};

int chunks_add_to_module(PyObject *module)
{
    (void)module; /* the type is reached through its objects only */
    int64_array_type = (PyTypeObject *)PyType_FromSpec(&array_spec);
    return int64_array_type == NULL ? -1 : 0;
}

/* An empty Int64Array (it owns no memory yet). */
static Int64Array *new_array(void)
{
    allocfunc alloc = (allocfunc)PyType_GetSlot(int64_array_type, Py_tp_alloc);
    return (Int64Array *)alloc(int64_array_type, 0);
}

/* ---- test hook ----------------------------------------------------------- */

static long fault_countdown, fault_period;

PyObject *fail_after(PyObject *module, PyObject *args)
{
    long countdown, period = 0;
    (void)module;
    if (!PyArg_ParseTuple(args, "l|l:_fail_after", &countdown, &period))
        return NULL;
    fault_countdown = countdown;
    fault_period = period;
    Py_RETURN_NONE;
}

int chunk_fault(void)
{
    if (fault_countdown > 0 && --fault_countdown == 0) {
        fault_countdown = fault_period;
        PyErr_NoMemory();
        return 1;
    }
    return 0;
}

/* ---- chunks ------------------------------------------------------------- */

Chunk *chunk_new(int64_t items, int64_t packs)
{
    Chunk *c = chunk_fault() ? NULL : calloc(1, sizeof *c);
    if (c == NULL)
        return (Chunk *)PyErr_NoMemory();
    c->items = int64_alloc(items);
    c->lengths = int64_alloc(items);
    c->offsets = int64_alloc(packs + 1);
    c->used = int64_alloc(packs);
    if (c->items == NULL || c->offsets == NULL || c->lengths == NULL || c->used == NULL) {
        chunk_free(c);
        return (Chunk *)PyErr_NoMemory();
    }
    c->offsets[0] = 0;
    return c;
}

Chunk *chunk_copy(const int64_t *items, const int64_t *lengths, const int64_t *offsets,
                  const int64_t *used, int64_t packs)
{
    const int64_t n = offsets[packs];
    Chunk *c = chunk_new(n, packs);
    if (c == NULL)
        return NULL;
    memcpy(c->items, items, (size_t)n * 8);
    memcpy(c->lengths, lengths, (size_t)n * 8);
    memcpy(c->offsets, offsets, (size_t)(packs + 1) * 8);
    memcpy(c->used, used, (size_t)packs * 8);
    c->num_items = n;
    c->num_packs = packs;
    return c;
}

void chunk_free(Chunk *c)
{
    while (c != NULL) {
        Chunk *next = c->next;
        int64_free(c->items);
        int64_free(c->lengths);
        int64_free(c->offsets);
        int64_free(c->used);
        free(c);
        c = next;
    }
}

int64_t chunk_count(const Chunk *c)
{
    int64_t packs = 0;
    for (; c != NULL; c = c->next)
        packs += c->num_packs;
    return packs;
}

void chunk_link(Chunk **first, Chunk *second)
{
    while (*first != NULL)
        first = &(*first)->next;
    *first = second;
}

sp_pack_buffers chunk_buffers(Chunk *c, int64_t items, int64_t packs)
{
    sp_pack_buffers out = {c->items, c->lengths, items, c->offsets, c->used, packs, 0};
    return out;
}

void chunk_written(Chunk *c, const sp_pack_buffers *out)
{
    c->num_packs = out->num_packs > 0 ? out->num_packs : 0;
    c->num_items = c->num_packs > 0 ? c->offsets[c->num_packs] : 0;
}

/* The list that starts at c as one new chunk; NULL with MemoryError. */
static Chunk *chunk_joined(const Chunk *c)
{
    int64_t items = 0, packs = chunk_count(c);
    for (const Chunk *k = c; k != NULL; k = k->next)
        items += k->num_items;
    Chunk *all = chunk_new(items, packs);
    if (all == NULL)
        return NULL;
    for (; c != NULL; c = c->next) {
        const int64_t at = all->num_items, p0 = all->num_packs;
        memcpy(all->items + at, c->items, (size_t)c->num_items * 8);
        memcpy(all->lengths + at, c->lengths, (size_t)c->num_items * 8);
        memcpy(all->used + p0, c->used, (size_t)c->num_packs * 8);
        for (int64_t p = 1; p <= c->num_packs; p++)
            all->offsets[p0 + p] = at + c->offsets[p];
        all->num_items += c->num_items;
        all->num_packs += c->num_packs;
    }
    return all;
}

PyObject *chunk_packs(const Chunk *c, PyObject *pack_type)
{
    if (chunk_fault())
        return NULL;
    if (c != NULL && c->next == NULL) /* one chunk: the list of its packs */
        return make_packs(pack_type, c->items, c->lengths, c->offsets, c->used, c->num_packs);
    PyObject *packs = PyList_New(0);
    for (; c != NULL && packs != NULL; c = c->next) {
        PyObject *more = make_packs(pack_type, c->items, c->lengths, c->offsets, c->used,
                                    c->num_packs);
        const Py_ssize_t n = PyList_Size(packs);
        if (more == NULL || PyList_SetSlice(packs, n, n, more) < 0)
            Py_CLEAR(packs);
        Py_XDECREF(more);
    }
    return packs;
}

PyObject *chunk_flat(Chunk **c)
{
    /* One chunk gives its own arrays; several (or none) are joined first. */
    Chunk *one = *c != NULL && (*c)->next == NULL ? *c : chunk_joined(*c);
    Int64Array *items = one == NULL || chunk_fault() ? NULL : new_array();
    Int64Array *offsets = items == NULL ? NULL : new_array();
    PyObject *result = offsets == NULL ? NULL : PyTuple_New(2);
    if (result == NULL) { /* the list keeps its arrays */
        Py_XDECREF(items);
        Py_XDECREF(offsets);
        if (one != *c)
            chunk_free(one);
        return NULL;
    }
    items->values = one->items;
    items->size = one->num_items;
    offsets->values = one->offsets;
    offsets->size = one->num_packs + 1;
    one->items = one->offsets = NULL; /* theirs now */
    if (one != *c)
        chunk_free(one);
    chunk_free(*c);
    *c = NULL;
    PyTuple_SetItem(result, 0, (PyObject *)items);
    PyTuple_SetItem(result, 1, (PyObject *)offsets);
    return result;
}

PyObject *chunk_bytes(const Chunk *c)
{
    PyObject *a[4] = {NULL}, *result = NULL;
    int64_t num_items = 0, num_packs = chunk_count(c);
    for (const Chunk *k = c; k != NULL; k = k->next)
        num_items += k->num_items;
    const int64_t sizes[4] = {num_items, num_items, num_packs + 1, num_packs};
    for (int i = 0; i < 4; i++)
        if ((a[i] = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)sizes[i] * 8)) == NULL)
            goto done;
    int64_t *out[4];
    for (int i = 0; i < 4; i++)
        out[i] = (int64_t *)PyBytes_AsString(a[i]);
    out[2][0] = 0;
    for (int64_t at = 0, p0 = 0; c != NULL; c = c->next) {
        memcpy(out[0] + at, c->items, (size_t)c->num_items * 8);
        memcpy(out[1] + at, c->lengths, (size_t)c->num_items * 8);
        memcpy(out[3] + p0, c->used, (size_t)c->num_packs * 8);
        for (int64_t p = 1; p <= c->num_packs; p++)
            out[2][p0 + p] = at + c->offsets[p];
        at += c->num_items;
        p0 += c->num_packs;
    }
    /* Every copy is made: Python code may run from here on. */
    result = PyTuple_New(4);
    for (int i = 0; i < 4 && result != NULL; i++) {
        PyTuple_SetItem(result, i, a[i]);
        a[i] = NULL;
    }
done:
    for (int i = 0; i < 4; i++)
        Py_XDECREF(a[i]);
    return result;
}
