"""One fuzz target under atheris, in a process of its own (``atheris.Fuzz`` never returns).

``python -m benchmarks.fuzz.worker TARGET [libFuzzer options] [CORPUS_DIR]``; the driver
(``python -m benchmarks.fuzz``) starts one per target and reads libFuzzer's final
statistics from its standard error.
"""

from __future__ import annotations

import logging
import sys
import warnings

#: gymctl's packages are instrumented for coverage; numpy, pydantic, ... are not
INSTRUMENTED = ["benchmarks.fuzz", "controller", "equipment_adapters", "kernels", "plans"]


def main(argv: list[str]) -> None:
    import atheris

    if len(argv) < 2:
        raise SystemExit("usage: python -m benchmarks.fuzz.worker TARGET [libFuzzer options]")
    name = argv[1]
    logging.disable(logging.CRITICAL)  # a refused payload is logged; millions would be noise
    warnings.simplefilter("ignore")  # numpy's overflow warnings on fuzzed floats
    with atheris.instrument_imports(include=INSTRUMENTED):
        from benchmarks.fuzz.targets import all_targets
    target = all_targets()[name]
    atheris.Setup([argv[0], *argv[2:]], target.run)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
