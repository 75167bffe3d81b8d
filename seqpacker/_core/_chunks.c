/*
 * _chunks.c - the arrays that packs move into out of a C stream.
 *
 * A call reads packs into a Chunk and builds its result from it; packs it
 * cannot hand out (an interrupt or a failed allocation after the C call)
 * stay in the stream's pending Chunk, joined in order, until a later call
 * hands them out or a pickle keeps them (see _stream_pending.c).
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

/* ---- chunks ------------------------------------------------------------- */

int chunk_alloc(Chunk *c, int64_t items, int64_t packs)
{
    memset(c, 0, sizeof *c);
    c->items = int64_alloc(items);
    c->lengths = int64_alloc(items);
    c->offsets = int64_alloc(packs + 1);
    c->used = int64_alloc(packs);
    if (c->items == NULL || c->offsets == NULL || c->lengths == NULL || c->used == NULL) {
        chunk_free(c);
        PyErr_NoMemory();
        return -1;
    }
    c->offsets[0] = 0;
    return 0;
}

int chunk_copy(Chunk *c, const int64_t *items, const int64_t *lengths, const int64_t *offsets,
               const int64_t *used, int64_t packs)
{
    const int64_t n = offsets[packs];
    if (chunk_alloc(c, n, packs) < 0)
        return -1;
    memcpy(c->items, items, (size_t)n * 8);
    memcpy(c->lengths, lengths, (size_t)n * 8);
    memcpy(c->offsets, offsets, (size_t)(packs + 1) * 8);
    memcpy(c->used, used, (size_t)packs * 8);
    c->num_items = n;
    c->num_packs = packs;
    return 0;
}

void chunk_free(Chunk *c)
{
    int64_free(c->items);
    int64_free(c->lengths);
    int64_free(c->offsets);
    int64_free(c->used);
    memset(c, 0, sizeof *c);
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

int chunk_join(Chunk *first, Chunk *second)
{
    if (first->num_packs == 0) { /* second's arrays, even when it has no packs */
        chunk_free(first);
        *first = *second;
        memset(second, 0, sizeof *second);
        return 0;
    }
    if (second->num_packs == 0) {
        chunk_free(second);
        return 0;
    }
    Chunk both;
    const int64_t items = first->num_items, packs = first->num_packs;
    if (chunk_alloc(&both, items + second->num_items, packs + second->num_packs) < 0)
        return -1;
    memcpy(both.items, first->items, (size_t)items * 8);
    memcpy(both.items + items, second->items, (size_t)second->num_items * 8);
    memcpy(both.lengths, first->lengths, (size_t)items * 8);
    memcpy(both.lengths + items, second->lengths, (size_t)second->num_items * 8);
    memcpy(both.used, first->used, (size_t)packs * 8);
    memcpy(both.used + packs, second->used, (size_t)second->num_packs * 8);
    memcpy(both.offsets, first->offsets, (size_t)(packs + 1) * 8);
    for (int64_t p = 1; p <= second->num_packs; p++)
        both.offsets[packs + p] = items + second->offsets[p];
    both.num_items = items + second->num_items;
    both.num_packs = packs + second->num_packs;
    chunk_free(first);
    chunk_free(second);
    *first = both;
    return 0;
}

PyObject *chunk_packs(const Chunk *c, PyObject *pack_type)
{
    return make_packs(pack_type, c->items, c->lengths, c->offsets, c->used, c->num_packs);
}

PyObject *chunk_flat(Chunk *c)
{
    Int64Array *items = new_array(), *offsets = items == NULL ? NULL : new_array();
    PyObject *result = offsets == NULL ? NULL : PyTuple_New(2);
    if (result == NULL) { /* the chunk keeps its arrays */
        Py_XDECREF(items);
        Py_XDECREF(offsets);
        return NULL;
    }
    items->values = c->items;
    items->size = c->num_items;
    offsets->values = c->offsets;
    offsets->size = c->num_packs + 1;
    c->items = c->offsets = NULL; /* theirs now */
    PyTuple_SetItem(result, 0, (PyObject *)items);
    PyTuple_SetItem(result, 1, (PyObject *)offsets);
    return result;
}

PyObject *chunk_bytes(const Chunk *c)
{
    return Py_BuildValue("(y#y#y#y#)", (const char *)c->items, (Py_ssize_t)c->num_items * 8,
                         (const char *)c->lengths, (Py_ssize_t)c->num_items * 8,
                         (const char *)c->offsets, (Py_ssize_t)(c->num_packs + 1) * 8,
                         (const char *)c->used, (Py_ssize_t)c->num_packs * 8);
}
