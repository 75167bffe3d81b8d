/*
 * _chunks.h - packs moved out of a C stream and not handed out yet: the
 * arrays one call reads them into, and a stream's pending packs (see
 * _chunks.c and _stream_pending.c).
 */
#ifndef SEQPACKER_CHUNKS_H
#define SEQPACKER_CHUNKS_H

#include "_ext.h"

#include "seqpacker.h"

/* Packs as sp_pack_buffers points C at them: pack p holds the ids
 * items[offsets[p] .. offsets[p + 1]) with their lengths, used[p] tokens,
 * in memory of int64_alloc(). A heap node, so that a stream's pending
 * packs are a list of chunks in order: linking one never allocates. */
typedef struct Chunk {
    int64_t *items, *lengths, *offsets, *used;
    int64_t num_items, num_packs; /* written */
    struct Chunk *next;           /* the next chunk of a list, or NULL */
} Chunk;

/* A chunk with room for so many ids and packs and none written; NULL with
 * MemoryError (also when chunk_fault() fails it). */
Chunk *chunk_new(int64_t items, int64_t packs);

/* A copy of `packs` packs in the form of a Chunk (offsets[packs] ids);
 * NULL with MemoryError. */
Chunk *chunk_copy(const int64_t *items, const int64_t *lengths, const int64_t *offsets,
                  const int64_t *used, int64_t packs);

/* Releases the list that starts at c (NULL: none). */
void chunk_free(Chunk *c);

/* The packs of the list that starts at c. */
int64_t chunk_count(const Chunk *c);

/* Appends the list *second to the list *first (either may be NULL);
 * never allocates. */
void chunk_link(Chunk **first, Chunk *second);

/* An sp_pack_buffers over the chunk's room (as allocated). */
sp_pack_buffers chunk_buffers(Chunk *c, int64_t items, int64_t packs);

/* Sets num_items and num_packs from what a C call wrote into `out`. */
void chunk_written(Chunk *c, const sp_pack_buffers *out);

/* The packs of the list that starts at c as one list of pack_type
 * objects; NULL with an exception (the chunks are left as they were). */
PyObject *chunk_packs(const Chunk *c, PyObject *pack_type);

/* (items, offsets): the written ids and offsets of the list that starts
 * at *c as objects with an __array_interface__ (NumPy makes arrays of
 * them without a copy), for add_many_flat. On success the list is freed
 * (*c is NULL) and the arrays are theirs; NULL with an exception leaves
 * it as it was. */
PyObject *chunk_flat(Chunk **c);

/* The written (items, lengths, offsets, used) of the list that starts at
 * c, joined, as bytes of native int64 (four bytes objects, which run no
 * Python code to make), for a pickle; NULL with MemoryError. */
PyObject *chunk_bytes(const Chunk *c);

/* For tests (_fail_after): 1 with MemoryError when this allocation of
 * packs (a chunk, or a result built of them) is to fail, else 0. */
int chunk_fault(void);

#endif
