# Compiled signatures of risk/units.py (the .py is the source and the reference twin).

cpdef object div_up(object a, object b)
cpdef object div_down(object a, object b)
cpdef object div_nearest(object a, object b)
cpdef object apply_rate_up(object amount, object r)
cpdef object apply_rate_down(object amount, object r)
