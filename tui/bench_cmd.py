"""``observatory bench [SCENARIO...] [--quick] [--out DIR]``: loopback benchmarks of the pipeline.

Each scenario starts what it measures (the local runtime, a Celery worker) as subprocesses with their own
database names, Redis prefix and broker UID, and stops and removes them at the end, even on Ctrl-C.
Results: ``latest.json`` and ``latest.md`` (and PNGs; ``partial.*`` while running or when interrupted) in ``--out`` (default ``bench/results``, or
``bench/results/quick`` with ``--quick``). Exit codes: 0 every scenario ran (targets missed or not), 1 a
scenario failed, 2 bad arguments, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tui.bench.preflight import preflight
from tui.bench.runner import SCENARIOS, run
from tui.bench.runtime import repo_root


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = subparsers.add_parser(
        "bench",
        help="run the benchmarks (loopback only) and write JSON + Markdown results",
        description="Loopback benchmarks of the pipeline against raw pika and Celery; see docs/BENCHMARKS.md.",
    )
    bench.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                       help=f"any of {', '.join(SCENARIOS)} (default: all, in that order)")  # fmt: skip
    bench.add_argument("--quick", action="store_true",
                       help="short durations and a 100k-job read model instead of 1M (a few minutes)")  # fmt: skip
    bench.add_argument(
        "--out", type=Path, metavar="DIR", help="results directory (default bench/results[/quick])"
    )
    bench.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        print(f"observatory bench: unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}",
              file=sys.stderr)  # fmt: skip
        return 2
    names = [s for s in SCENARIOS if s in args.scenarios] if args.scenarios else list(SCENARIOS)
    out = args.out or repo_root() / "bench" / "results" / ("quick" if args.quick else "")
    problems = preflight(os.environ)
    if problems:
        print(f"observatory bench: services not usable: {'; '.join(problems)}; see scripts/services.sh status",
              file=sys.stderr)  # fmt: skip
        return 1
    try:
        outcome = run(names, quick=args.quick, out_dir=out)
    except KeyboardInterrupt:
        print("observatory bench: interrupted", file=sys.stderr)
        return 130
    print(outcome.paths[1].read_text(encoding="utf-8") if outcome.paths[1].exists() else "")
    if outcome.interrupted:
        return 130
    if outcome.failed:
        print(f"observatory bench: failed scenarios: {', '.join(outcome.failed)}", file=sys.stderr)
        return 1
    return 0
