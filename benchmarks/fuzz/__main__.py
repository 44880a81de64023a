"""The long fuzz run: every target (or a chosen few) under atheris, one process each.

    python -m benchmarks.fuzz                       # every target, 100 000 inputs each
    python -m benchmarks.fuzz --runs 1000000 --target 'ble.*'
    python -m benchmarks.fuzz --list

Each target runs in its own worker process (``benchmarks.fuzz.worker``) with a corpus
seeded from valid inputs under ``--out`` (kept between runs, so a later run starts where
the last one got to). A finding stops that target: the input that broke the contract is
saved as ``<out>/findings/<target>-crash-<sha1>`` and the run exits 1. The report (one
line per target: inputs executed, seconds, inputs per second, coverage features, result)
is printed and written to ``<out>/report.json``. ``make fuzz`` runs it; docs/fuzzing.md
has the recorded figures.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.fuzz.targets import Target, all_targets

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Outcome:
    target: str
    runs: int  #: inputs executed
    seconds: float
    features: int  #: libFuzzer's coverage features at the end
    ok: bool
    detail: str = ""

    @property
    def per_second(self) -> float:
        return self.runs / self.seconds if self.seconds > 0 else 0.0


def _seed_corpus(target: Target, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(target.seeds()):
        path = directory / f"seed-{i}"
        if not path.exists():
            path.write_bytes(seed)


def run_target(target: Target, *, runs: int, max_seconds: int, out: Path) -> Outcome:
    corpus = out / "corpus" / target.name
    findings = out / "findings"
    findings.mkdir(parents=True, exist_ok=True)
    _seed_corpus(target, corpus)
    command = [
        sys.executable,
        "-m",
        "benchmarks.fuzz.worker",
        target.name,
        f"-runs={runs}",
        f"-max_len={target.max_len}",
        f"-max_total_time={max_seconds}",
        f"-artifact_prefix={findings}/{target.name}-",
        "-print_final_stats=1",
        str(corpus),
    ]
    started = time.perf_counter()
    result = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    seconds = time.perf_counter() - started
    log = result.stderr
    executed = re.search(r"stat::number_of_executed_units:\s*(\d+)", log)
    features = re.findall(r"\bft: (\d+)", log)
    ok = result.returncode == 0 and executed is not None
    detail = ""
    if not ok:
        tail = [line for line in log.splitlines() if line.strip()][-25:]
        detail = "\n".join(tail)
    return Outcome(
        target=target.name,
        runs=int(executed[1]) if executed else 0,
        seconds=round(seconds, 2),
        features=int(features[-1]) if features else 0,
        ok=ok,
        detail=detail,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__)
    parser.add_argument("--runs", type=int, default=100_000, help="inputs per target")
    parser.add_argument(
        "--max-seconds", type=int, default=900, help="time limit per target (seconds)"
    )
    parser.add_argument(
        "--target", action="append", metavar="PATTERN", help="glob of target names (repeatable)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="targets fuzzed at once")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "fuzz", help="corpus, report")
    parser.add_argument("--list", action="store_true", help="list the targets and stop")
    args = parser.parse_args(argv)
    targets = all_targets()
    if args.list:
        for name, target in targets.items():
            print(f"{name:48} {target.doc}")
        return 0
    chosen = [
        t
        for name, t in targets.items()
        if not args.target or any(fnmatch.fnmatch(name, p) for p in args.target)
    ]
    if not chosen:
        parser.error(f"no target matches {args.target}")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = list(
            pool.map(
                lambda t: run_target(t, runs=args.runs, max_seconds=args.max_seconds, out=args.out),
                chosen,
            )
        )
    wall = time.perf_counter() - started
    print(f"{'target':44} {'inputs':>10} {'seconds':>8} {'inputs/s':>9} {'features':>8}  result")
    for o in outcomes:
        result = "ok" if o.ok else "FINDING"
        print(
            f"{o.target:44} {o.runs:>10} {o.seconds:>8.1f} {o.per_second:>9.0f} "
            f"{o.features:>8}  {result}"
        )
    total = sum(o.runs for o in outcomes)
    bad = [o for o in outcomes if not o.ok]
    print(f"{len(outcomes)} targets, {total} inputs in {wall:.0f} s wall time, {len(bad)} findings")
    for o in bad:
        print(f"\n--- {o.target} ---\n{o.detail}", file=sys.stderr)
    report = {
        "targets": [{**asdict(o), "per_second": round(o.per_second)} for o in outcomes],
        "total_inputs": total,
        "wall_seconds": round(wall, 1),
        "findings": len(bad),
        "python": sys.version.split()[0],
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
