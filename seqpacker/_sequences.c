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
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

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
    if (!PyList_Check(seqs) && !PyTuple_Check(seqs))
        Py_RETURN_NONE;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seqs);
    PyObject **outer = PySequence_Fast_ITEMS(seqs);
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *seq = outer[i];
        if (!PyList_Check(seq) && !PyTuple_Check(seq))
            Py_RETURN_NONE;
        Py_ssize_t size = PySequence_Fast_GET_SIZE(seq);
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
    int64_t *out = (int64_t *)PyByteArray_AS_STRING(values);
    int64_t *bounds = (int64_t *)PyByteArray_AS_STRING(offsets);
    int64_t at = 0;
    bounds[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *seq = outer[i];
        Py_ssize_t size = PySequence_Fast_GET_SIZE(seq);
        PyObject **tokens = PySequence_Fast_ITEMS(seq);
        for (Py_ssize_t j = 0; j < size; j++) {
            PyObject *token = tokens[j];
            int overflow = 0;
            if (!PyLong_Check(token) || PyBool_Check(token))
                goto unusual;
            long long value = PyLong_AsLongLongAndOverflow(token, &overflow);
            if (overflow != 0)
                goto unusual;
            out[at++] = (int64_t)value;
        }
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

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_sequences",
    "Flattens lists of token ids into int64 buffers (see flatten_int_lists).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__sequences(void)
{
    return PyModule_Create(&module_def);
}
