/*
 * _ext.c - seqpacker._core._ext, the package's one module written against
 * the CPython API, beside the cffi binding (_seqpacker_ffi, native.py).
 *
 * It holds what cffi cannot do fast: Python objects built or read in C.
 * _packs.c builds the Pack objects and id lists of results;
 * _sequences.c reads lists of token ids; _stream.c (with
 * _stream_pending.c, _stream_batch.c and _chunks.c) is StreamPacker's
 * base class, which owns its C stream (add() runs once per length). Like every
 * extension module of the package it is built against the limited C API
 * of Python 3.9 (see seqpacker/meson.build).
 */
#include "_ext.h"

static struct PyModuleDef ext_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "seqpacker._core._ext",
    .m_doc = "Pack objects, token lists and StreamPacker's stream in C (see _ext.c).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__ext(void)
{
    PyObject *module = PyModule_Create(&ext_module);
    if (module == NULL)
        return NULL;
    /* packs first: the others read int64 arrays through it. */
    if (packs_add_to_module(module) < 0 || sequences_add_to_module(module) < 0 ||
        chunks_add_to_module(module) < 0 || stream_add_to_module(module) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
