"""Run every workload in its own process and print one JSON object per line."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from bench.workloads import PROCESS_WORKLOADS, WORKLOADS, run_chain_rss, run_workload


def main(argv: list[str] | None = None) -> int:
    """``python -m bench --database sqlite [--workload chain]``."""
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--workload", choices=sorted([*WORKLOADS, *PROCESS_WORKLOADS]), help="one workload"
    )
    # Used by chain_memory: one chain of N nodes in a fresh process.
    parser.add_argument("--chain-rss", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.chain_rss:
        print(json.dumps(run_chain_rss(args.chain_rss, args.database)), flush=True)
        return 0
    if args.workload:
        print(json.dumps(run_workload(args.workload, args.database)), flush=True)
        return 0
    failed = 0
    for name in [*WORKLOADS, *PROCESS_WORKLOADS]:
        # A process per workload: peak memory and warm caches belong to that workload alone.
        command = [sys.executable, "-m", "bench", "--database", args.database, "--workload", name]
        done = subprocess.run(command, check=False)
        failed += done.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
