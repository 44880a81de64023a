# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""FIFO records decoded straight from the list of registers pymodbus returns, compiled.

The rack adapter decodes a block of records on every poll of every rack; converting the
Python list to an array and scaling it column by column costs several numpy calls per
poll. This does it in one pass for the common layout (adjacent one-register fields of one
16-bit type), with the same arithmetic as ``RecordDecoder.decode``'s numpy path, which
stays the reference and the fallback for every other layout. The loop reads Python ints
from a list, so it holds the GIL; it is a few hundred nanoseconds per poll.
"""

cimport numpy as cnp

cnp.import_array()


def decode_words(
    list registers,
    Py_ssize_t width,
    Py_ssize_t first,
    tuple scales,
    tuple offsets,
    bint swap,
    bint signed,
):
    """An ``(len(scales), n)`` float64 array: field ``j`` of record ``i`` is register
    ``i * width + first + j`` (bytes swapped when ``swap``, two's complement when
    ``signed``) times ``scales[j]``, plus ``offsets[j]`` unless ``offsets`` is empty.

    None when an element is not an ``int`` in 0..65535 (the caller's checked path then
    reports it). The caller guarantees ``len(registers) % width == 0`` and that the fields
    fit in a record.
    """
    cdef Py_ssize_t count = len(scales)
    cdef Py_ssize_t n = len(registers) // width
    cdef Py_ssize_t i, j
    cdef long v
    cdef double scale, offset = 0.0
    cdef bint add = len(offsets) > 0
    cdef object item
    cdef cnp.npy_intp dims[2]
    dims[0] = count
    dims[1] = n
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(2, dims, cnp.NPY_FLOAT64, 0)
    cdef double* rows = <double*> cnp.PyArray_DATA(out)
    for j in range(count):
        scale = scales[j]
        if add:
            offset = offsets[j]
        for i in range(n):
            item = registers[i * width + first + j]
            if type(item) is not int:
                return None
            try:
                v = item
            except OverflowError:
                return None
            if v < 0 or v > 0xFFFF:
                return None
            if swap:
                v = ((v & 0xFF) << 8) | (v >> 8)
            if signed and v >= 0x8000:
                v -= 0x10000
            if add:
                rows[j * n + i] = v * scale + offset
            else:
                rows[j * n + i] = v * scale
    return out
