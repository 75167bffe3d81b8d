/*
 * _chunks.c - the arrays that packs move into out of a C stream.
 *
 * A call reads packs into a Chunk and builds its result from it; packs it
 * cannot hand out (an interrupt or a failed allocation after the C call)
 * stay in the stream's pending Chunk, joined in order, until a later call
 * hands them out or a pickle keeps them (see _stream.c).
 */
#include "_chunks.h"

#include <string.h>

/* A bytearray of n int64 values and its memory (never NULL, even for 0). */
static int64_t *int64_bytearray(int64_t n, PyObject **obj)
{
    static int64_t none[1];
    *obj = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)n * 8);
    if (*obj == NULL)
        return NULL;
    return n == 0 ? none : (int64_t *)PyByteArray_AsString(*obj);
}

int chunk_alloc(Chunk *c, int64_t items, int64_t packs, int flat)
{
    memset(c, 0, sizeof *c);
    if (items < 0 || packs < 0 || items > PY_SSIZE_T_MAX / 8 - 1 ||
        packs > PY_SSIZE_T_MAX / 8 - 1) {
        PyErr_NoMemory();
        return -1;
    }
    if (flat) {
        c->items = int64_bytearray(items, &c->items_obj);
        c->offsets = c->items == NULL ? NULL : int64_bytearray(packs + 1, &c->offsets_obj);
    } else {
        c->items = PyMem_New(int64_t, (size_t)items + 1);
        c->offsets = PyMem_New(int64_t, (size_t)packs + 1);
    }
    c->lengths = PyMem_New(int64_t, (size_t)items + 1);
    c->used = PyMem_New(int64_t, (size_t)packs + 1);
    if (c->items == NULL || c->offsets == NULL || c->lengths == NULL || c->used == NULL) {
        chunk_free(c);
        PyErr_NoMemory();
        return -1;
    }
    c->offsets[0] = 0;
    return 0;
}

void chunk_free(Chunk *c)
{
    if (c->items_obj == NULL)
        PyMem_Free(c->items);
    if (c->offsets_obj == NULL)
        PyMem_Free(c->offsets);
    Py_XDECREF(c->items_obj);
    Py_XDECREF(c->offsets_obj);
    PyMem_Free(c->lengths);
    PyMem_Free(c->used);
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
    if (second->num_packs == 0) {
        chunk_free(second);
        return 0;
    }
    if (first->num_packs == 0) {
        chunk_free(first);
        *first = *second;
        memset(second, 0, sizeof *second);
        return 0;
    }
    Chunk both;
    const int64_t items = first->num_items, packs = first->num_packs;
    if (chunk_alloc(&both, items + second->num_items, packs + second->num_packs, 0) < 0)
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

/* A bytearray holding a copy of n int64 values. */
static PyObject *copied(const int64_t *values, int64_t n)
{
    return PyByteArray_FromStringAndSize((const char *)values, (Py_ssize_t)n * 8);
}

PyObject *chunk_flat(Chunk *c)
{
    PyObject *items = c->items_obj, *offsets = c->offsets_obj;
    if (items != NULL && offsets != NULL) {
        Py_INCREF(items);
        Py_INCREF(offsets);
    } else {
        items = copied(c->items, c->num_items);
        offsets = copied(c->offsets, c->num_packs + 1);
    }
    if (items == NULL || offsets == NULL) {
        Py_XDECREF(items);
        Py_XDECREF(offsets);
        return NULL;
    }
    return Py_BuildValue("(NNLL)", items, offsets, (long long)c->num_items,
                         (long long)c->num_packs);
}

PyObject *chunk_bytes(const Chunk *c)
{
    return Py_BuildValue("(y#y#y#y#)", (const char *)c->items, (Py_ssize_t)c->num_items * 8,
                         (const char *)c->lengths, (Py_ssize_t)c->num_items * 8,
                         (const char *)c->offsets, (Py_ssize_t)(c->num_packs + 1) * 8,
                         (const char *)c->used, (Py_ssize_t)c->num_packs * 8);
}
