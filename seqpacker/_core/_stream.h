/*
 * _stream.h - Stream, the base class of StreamPacker, shared by its files:
 * _stream.c (the type and add()), _stream_pending.c (packs moved out of
 * C, export and import) and _stream_batch.c (the calls that release the
 * GIL, their lock and fork).
 */
#ifndef SEQPACKER_STREAM_H
#define SEQPACKER_STREAM_H

#include "_chunks.h"

#include <pythread.h>

typedef struct {
    PyObject_HEAD
    sp_stream *stream;
    PyObject *pack_type;     /* seqpacker.result.Pack */
    PyThread_type_lock lock; /* held by a call running without the GIL */
    int busy;                /* 1 while such a call runs (read with the GIL) */
    int64_t capacity;
    Chunk pending;           /* moved out of C, not handed out yet */
} Stream;

/* StreamError(status, index): NULL. */
PyObject *status_error(int status, int64_t index);

/* 1, or 0 with RuntimeError when StreamPacker.__init__ was not called. */
int has_stream(Stream *self);

/* A new handle (from sp_stream_create or sp_stream_import) in place of the
 * old one, which is freed, with no pending packs. */
void replace(Stream *self, sp_stream *stream, PyObject *pack_type);

/* Waits, with the GIL released, until no call of another thread runs on
 * the handle without the GIL. The handle is then the caller's until it
 * next runs Python code or releases the GIL. */
void wait_free(Stream *self);

/* Keeps *got before the stream's pending packs (it is empty after). */
void keep(Stream *self, Chunk *got);

/* The pending packs and then *got (freed), as a list of packs or, `flat`,
 * as chunk_flat(); with `check`, signals are checked first. Packs not
 * handed out stay pending. */
PyObject *hand_out(Stream *self, Chunk *got, int flat, int check);

/* Moves the unread packs out of C into *got; 0, or -1 with an exception. */
int read_unread(Stream *self, Chunk *got);

/* The methods of the other files (see the method table in _stream.c). */
PyObject *stream_add_many(Stream *self, PyObject *args);
PyObject *stream_fork_hold(Stream *self, PyObject *unused);
PyObject *stream_fork_release(Stream *self, PyObject *unused);
PyObject *stream_export(Stream *self, PyObject *unused);
PyObject *stream_import(Stream *self, PyObject *args);
PyObject *interrupt_after(PyObject *module, PyObject *args);

#endif
