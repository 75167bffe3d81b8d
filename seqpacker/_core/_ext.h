/*
 * _ext.h - the parts of the extension module seqpacker._core._ext: Pack
 * objects and id lists (_packs.c), token lists (_sequences.c), and the
 * stream that StreamPacker subclasses (_stream*.c, _chunks.c). _ext.c
 * makes the module from them.
 */
#ifndef SEQPACKER_EXT_H
#define SEQPACKER_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

/* Each adds its types and functions to the module: 0, or -1 with an
 * exception set. */
int packs_add_to_module(PyObject *module);
int sequences_add_to_module(PyObject *module);
int stream_add_to_module(PyObject *module);
int chunks_add_to_module(PyObject *module);

/* 1 when obj is PackBase or a subclass of it (seqpacker.result.Pack);
 * 0 with TypeError naming `what` otherwise. */
int is_pack_type(PyObject *obj, const char *what);

/* The list of pack_type objects for num_packs bins, bin p holding
 * items[offsets[p]:offsets[p + 1]] with those lengths and used[p] tokens;
 * pack_type passed is_pack_type(). NULL with an exception set on failure. */
PyObject *make_packs(PyObject *pack_type, const int64_t *items, const int64_t *lengths,
                     const int64_t *offsets, const int64_t *used, int64_t num_packs);

/* A 1-d, C-contiguous, aligned int64 array argument, read in place; *holder
 * keeps its memory valid until released (Py_DECREF), *size is its length.
 * NULL with TypeError or ValueError naming `name` otherwise. */
const int64_t *int64_array(PyObject *obj, const char *name, PyObject **holder,
                           Py_ssize_t *size);

#endif
