/*
 * _sequences.c - flattens a list of token lists into one int64 buffer.
 *
 * The training helpers take token sequences as Python lists of ints. NumPy
 * converts such a list element by element through the generic number
 * protocol, and itertools.chain plus np.fromiter adds a Python iterator
 * step per token; either costs more than all of the packing and layout
 * work of a batch together. cffi cannot read Python objects at all. This
 * function reads the lists in place with the GIL held, two passes, and
 * calls no Python code, so no list can change between the passes.
 *
 * It handles only the common case, every sequence a list or tuple of
 * plain ints that fit int64, and returns None for anything else; the
 * caller then takes its general path, which also words every error.
 *
 * It is built against the limited C API of Python 3.9 (meson sets
 * Py_LIMITED_API): items are read through PyList_GetItem and
 * PyTuple_GetItem, and a plain int is recognised by its type before
 * PyLong_Check (a function call in the limited API) is asked.
 */
#include "_ext.h"

#include <stdint.h>
#include <string.h>

/* Item i of a list or tuple (borrowed; the caller checked the type and
 * the index). */
static PyObject *item(PyObject *seq, int is_list, Py_ssize_t i)
{
    return is_list ? PyList_GetItem(seq, i) : PyTuple_GetItem(seq, i);
}

/* 1 for a list, 0 for a tuple, -1 for anything else. The exact types are
 * told apart without a call; subclasses take PyList_Check. */
static int list_or_tuple(PyObject *seq)
{
    if (PyList_CheckExact(seq))
        return 1;
    if (PyTuple_CheckExact(seq))
        return 0;
    return PyList_Check(seq) ? 1 : PyTuple_Check(seq) ? 0 : -1;
}

/* A token: an int (subclasses included, bools excluded) that fits int64.
 * 0 when it is one, -1 when it is not. */
static int token(PyObject *value, int64_t *out)
{
    int overflow = 0;
    if (!PyLong_CheckExact(value) && (!PyLong_Check(value) || PyBool_Check(value)))
        return -1;
    long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow != 0)
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* flatten_int_lists(seqs) -> (values, offsets) | None
 *
 * seqs: a list or tuple of lists or tuples of ints. values: a bytearray of
 * sum(len) native int64 tokens; offsets: a bytearray of len(seqs) + 1
 * native int64 boundaries. None when any sequence is not a list or tuple,
 * any token is not an int (subclasses included, bools excluded) or does not
 * fit int64. */
static PyObject *flatten_int_lists(PyObject *module, PyObject *seqs)
{
    (void)module;
    const int outer_is_list = list_or_tuple(seqs);
    if (outer_is_list < 0)
        Py_RETURN_NONE;
    const Py_ssize_t n = outer_is_list ? PyList_Size(seqs) : PyTuple_Size(seqs);
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *seq = item(seqs, outer_is_list, i);
        const int is_list = list_or_tuple(seq);
        if (is_list < 0)
            Py_RETURN_NONE;
        const Py_ssize_t size = is_list ? PyList_Size(seq) : PyTuple_Size(seq);
        if (size > PY_SSIZE_T_MAX / 8 - total)
            Py_RETURN_NONE;
        total += size;
    }
    if (n >= PY_SSIZE_T_MAX / 8)
        Py_RETURN_NONE;
    PyObject *values = PyByteArray_FromStringAndSize(NULL, total * 8);
    PyObject *offsets = PyByteArray_FromStringAndSize(NULL, (n + 1) * 8);
    if (values == NULL || offsets == NULL)
        goto fail;
    int64_t *out = (int64_t *)PyByteArray_AsString(values);
    int64_t *bounds = (int64_t *)PyByteArray_AsString(offsets);
    int64_t at = 0;
    bounds[0] = 0;
    /* No Python code runs from here on (PyLong_AsLongLongAndOverflow only
     * reads an int), so the sizes counted above still hold. */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *seq = item(seqs, outer_is_list, i);
        const int is_list = list_or_tuple(seq);
        const Py_ssize_t size = is_list ? PyList_Size(seq) : PyTuple_Size(seq);
        for (Py_ssize_t j = 0; j < size; j++)
            if (token(item(seq, is_list, j), &out[at++]) < 0)
                goto unusual;
        bounds[i + 1] = at;
    }
    return Py_BuildValue("(NN)", values, offsets);

unusual:
    Py_DECREF(values);
    Py_DECREF(offsets);
    Py_RETURN_NONE;
fail:
    Py_XDECREF(values);
    Py_XDECREF(offsets);
    return NULL;
}

static PyMethodDef methods[] = {
    {"flatten_int_lists", flatten_int_lists, METH_O,
     "flatten_int_lists(seqs) -> (values, offsets) as int64 bytearrays, or None"},
    {NULL, NULL, 0, NULL},
};

int sequences_add_to_module(PyObject *module)
{
    return PyModule_AddFunctions(module, methods);
}
