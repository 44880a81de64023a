"""Reproducible performance runs of gymctl (``gymctl bench ...``).

Every benchmark runs its baselines in the same process as the thing measured and reports
ratios; nothing here is a timed assertion. Results are recorded in ``benchmarks/RESULTS.md``.
"""
