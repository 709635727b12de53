# cython: language_level=3
"""The bare loop accrual is measured against: points = amount * rate // unit, nothing else."""

from libc.stdint cimport int64_t


def bare_loop(const int64_t[::1] amounts_minor, int64_t[::1] points, int64_t rate, int64_t unit):
    cdef Py_ssize_t index
    with nogil:
        for index in range(amounts_minor.shape[0]):
            points[index] = amounts_minor[index] * rate // unit
