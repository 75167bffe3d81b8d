/*
 * _packs.h - Pack objects and id lists built from int64 arrays, for the
 * _stream_fast module (see _packs.c).
 */
#ifndef SEQPACKER_PACKS_H
#define SEQPACKER_PACKS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

/* Creates PackBase and adds it, packs_from_arrays() and bins_from_arrays()
 * to the module. 0, or -1 with an exception set. */
int packs_add_to_module(PyObject *module);

/* 1 when obj is PackBase or a subclass of it (seqpacker.result.Pack);
 * 0 with TypeError naming `what` otherwise. */
int is_pack_type(PyObject *obj, const char *what);

/* The list of pack_type objects for num_packs bins, bin p holding
 * items[offsets[p]:offsets[p + 1]] with those lengths and used[p] tokens;
 * pack_type passed is_pack_type(). NULL with an exception set on failure. */
PyObject *make_packs(PyObject *pack_type, const int64_t *items, const int64_t *lengths,
                     const int64_t *offsets, const int64_t *used, int64_t num_packs);

#endif
