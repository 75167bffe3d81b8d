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
    int fork_held;           /* 1 while _fork_hold holds it */
    int64_t capacity;
    Chunk *pending;          /* moved out of C, not handed out yet: a list */
    Chunk *spare;            /* add()'s chunk for the few packs it reads */
} Stream;

/* StreamError(status, index): NULL. */
PyObject *status_error(int status, int64_t index);

/* StreamError(status, index, taken), for _add_many: NULL. */
PyObject *status_error_taken(int status, int64_t index, int64_t taken);

/* 1, or 0 with RuntimeError when StreamPacker.__init__ was not called. */
int has_stream(Stream *self);

/* Gives a new object its handle (from sp_stream_create or
 * sp_stream_import) and `pending` (a list, or NULL): 0, or -1 with
 * RuntimeError when it has one already (the caller still owns both).
 * A live stream is never replaced: that would drop its open bins and
 * pending packs, and undo other threads' adds. */
int install(Stream *self, sp_stream *stream, PyObject *pack_type, Chunk *pending);

/* Waits, with the GIL released, until no call of another thread runs on
 * the handle without the GIL. The handle is then the caller's until it
 * next runs Python code or releases the GIL. */
void wait_free(Stream *self);

/* Appends the list `got` (NULL: none) after the stream's pending packs,
 * dropping chunks without packs; never allocates. */
void keep(Stream *self, Chunk *got);

/* The pending packs as a list of packs or, `flat`, as chunk_flat(); with
 * `check`, signals are checked first, while the packs are still pending
 * (a handler that pickles the packer sees them). Packs not handed out
 * stay pending, in order. */
PyObject *hand_out(Stream *self, int flat, int check);

/* Moves the unread packs out of C after the pending ones; 0, or -1 with
 * an exception (MemoryError before reading: they stay unread in C). */
int read_unread(Stream *self);

/* The methods of the other files (see the method table in _stream.c). */
PyObject *stream_add_many(Stream *self, PyObject *args);
PyObject *stream_fork_hold(Stream *self, PyObject *unused);
PyObject *stream_fork_release(Stream *self, PyObject *unused);
PyObject *stream_export(Stream *self, PyObject *unused);
PyObject *stream_import(Stream *self, PyObject *args);
PyObject *interrupt_after(PyObject *module, PyObject *args);
PyObject *fail_after(PyObject *module, PyObject *args);

/* The check for signals after a C call (and interrupt_after's hook):
 * 0, or -1 with an exception. */
int interrupted(void);

#endif
