"""The training domain: exercises, plans, the readiness profile, adjustment, progression.

Pure domain code: it uses ``kernels`` for the numbers and does no device or network I/O.
"""
