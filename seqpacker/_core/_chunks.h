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
 * in memory of int64_alloc(). All zero: none. */
typedef struct {
    int64_t *items, *lengths, *offsets, *used;
    int64_t num_items, num_packs; /* written */
} Chunk;

/* Room for so many ids and packs; 0, or -1 with MemoryError. */
int chunk_alloc(Chunk *c, int64_t items, int64_t packs);

/* A copy of `packs` packs in the form of a Chunk (offsets[packs] ids);
 * 0, or -1 with MemoryError. */
int chunk_copy(Chunk *c, const int64_t *items, const int64_t *lengths, const int64_t *offsets,
               const int64_t *used, int64_t packs);

/* Releases the arrays; the chunk is empty after. */
void chunk_free(Chunk *c);

/* An sp_pack_buffers over the chunk's room (as allocated). */
sp_pack_buffers chunk_buffers(Chunk *c, int64_t items, int64_t packs);

/* Sets num_items and num_packs from what a C call wrote into `out`. */
void chunk_written(Chunk *c, const sp_pack_buffers *out);

/* *first followed by *second, into *first; *second is
 * freed. 0, or -1 with MemoryError (both left as they were). */
int chunk_join(Chunk *first, Chunk *second);

/* The written packs as a list of pack_type objects. */
PyObject *chunk_packs(const Chunk *c, PyObject *pack_type);

/* (items, offsets): the written ids and offsets as objects with an
 * __array_interface__ (NumPy makes arrays of them without a copy), for
 * add_many_flat. The chunk gives up its arrays. */
PyObject *chunk_flat(Chunk *c);

/* The written (items, lengths, offsets, used) as bytes of native int64,
 * for a pickle. */
PyObject *chunk_bytes(const Chunk *c);

#endif
