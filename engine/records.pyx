# cython: language_level=3
"""Events built at C speed: one allocation per record, no interpreted frame.

Every event the engine emits is a NamedTuple (engine/events.py, engine/book_types.py). Built
the usual way, each costs the class's Python-level ``__new__``; built with ``tuple.__new__``
it still makes a temporary tuple and goes through the generic call path. A cascade emits
millions of them, so the hot paths build them here: the instance is allocated as the class
and its items set directly, as ``tuple.__new__`` does for a subclass once it has its items.
The result is what ``cls(*fields)`` gives: same type, same items, same equality, repr and
pickling.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.number cimport PyNumber_Index
from cpython.object cimport PyObject_Str
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy


cdef extern from "Python.h":
    object PyType_GenericAlloc(type cls, Py_ssize_t nitems)
    bint PyType_IsSubtype(type a, type b)


cpdef object new_record(type cls, tuple fields):
    """An instance of the NamedTuple class `cls` holding `fields` (all of them, in order)."""
    cdef Py_ssize_t i, n = len(fields)
    cdef object item
    if not PyType_IsSubtype(cls, tuple):
        raise TypeError(f"{cls.__name__} is not a tuple class")
    record = PyType_GenericAlloc(cls, n)
    for i in range(n):
        item = <object>PyTuple_GET_ITEM(fields, i)
        Py_INCREF(item)  # PyTuple_SET_ITEM steals a reference
        PyTuple_SET_ITEM(record, i, item)
    return record


cdef dict _OPENERS = {}  # record class -> b"Name(" (its bytes before the fields)


cdef class _Writer:
    """A growing byte buffer (C memory)."""

    cdef char* data
    cdef Py_ssize_t size, cap

    def __cinit__(self):
        self.cap = 4096
        self.size = 0
        self.data = <char*>malloc(self.cap)
        if self.data == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self.data)

    cdef int reserve(self, Py_ssize_t n) except -1:
        cdef char* grown
        if self.size + n <= self.cap:
            return 0
        while self.size + n > self.cap:
            self.cap *= 2
        grown = <char*>realloc(self.data, self.cap)
        if grown == NULL:
            raise MemoryError()
        self.data = grown
        return 0

    cdef int write(self, const char* src, Py_ssize_t n) except -1:
        self.reserve(n)
        memcpy(self.data + self.size, src, n)
        self.size += n
        return 0

    cdef int write_int(self, object value) except -1:
        cdef int overflow = 0
        cdef long long v = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow:  # beyond 64 bits: its decimal text
            return self.write_text(PyObject_Str(value))
        return self.write_digits(v)

    cdef int write_digits(self, long long v) except -1:
        """Base-10 digits of v (by hand: snprintf costs more than the rest of a field)."""
        cdef char digits[24]
        cdef int n = 0
        cdef unsigned long long u = <unsigned long long>(-(v + 1)) + 1 if v < 0 else <unsigned long long>v
        self.reserve(24)
        if v < 0:
            self.data[self.size] = 45  # '-'
            self.size += 1
        while True:
            digits[n] = 48 + <char>(u % 10)
            n += 1
            u //= 10
            if u == 0:
                break
        while n:
            n -= 1
            self.data[self.size] = digits[n]
            self.size += 1
        return 0

    cdef int write_text(self, str text, bint prefixed=False) except -1:
        """The UTF-8 bytes of text, after their length and ':' if prefixed."""
        cdef Py_ssize_t n
        cdef const char* utf8 = PyUnicode_AsUTF8AndSize(text, &n)
        if prefixed:
            self.write_digits(n)
            self.write(":", 1)
        return self.write(utf8, n)

    cdef int put(self, object value) except -1:
        """One value: an int (an enum or bool by its integer value) as decimal digits, a string
        (a StrEnum by its value) as its UTF-8 length, ':' and its UTF-8 bytes, a record as
        Name(fields), a plain tuple as (fields), None as N, anything else as its repr,
        length-prefixed like a string."""
        cdef Py_ssize_t i, n
        cdef type cls = type(value)
        cdef bytes opener
        if cls is int:
            return self.write_int(value)
        if cls is str:
            return self.write_text(value, True)
        if value is None:
            return self.write("N", 1)
        if PyType_IsSubtype(cls, tuple):
            if cls is tuple:
                self.write("(", 1)
            else:
                opener = _OPENERS.get(cls)
                if opener is None:
                    opener = _OPENERS[cls] = (cls.__name__ + "(").encode()
                self.write(opener, len(opener))
            n = len(value)
            for i in range(n):
                if i:
                    self.write(",", 1)
                self.put(<object>PyTuple_GET_ITEM(value, i))
            return self.write(")", 1)
        if PyType_IsSubtype(cls, int):
            return self.write_int(PyNumber_Index(value))
        if PyType_IsSubtype(cls, str):  # a StrEnum member (a status or cause) by its string
            return self.write_text(str.__str__(value), True)
        return self.write_text(repr(value), True)


def encode(records):
    """The events of one command as bytes, for a running digest of an event stream: each
    record's type name and fields in order, each record closed by ';' (no floats, no
    addresses: the same events give the same bytes in any process). About four times faster
    than the records' own reprs (C text for ints and strings, no interpreted frame)."""
    cdef _Writer w = _Writer()
    for record in records:
        w.put(record)
        w.write(";", 1)
    return PyBytes_FromStringAndSize(w.data, w.size)
