# C entry point of engine/records.pyx, for the compiled exchange and book.
cpdef object new_record(type cls, tuple fields)
