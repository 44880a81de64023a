"""Plain Python/numpy versions of the kernels, written for clarity; the tests' oracles."""
