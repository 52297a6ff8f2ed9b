"""python -m synthetic --landing DIR --as-of 2026-11-20 --households 200 --seed 7 [--dialects]"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

from synthetic import write_synthetic_firm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthetic", description="Write a synthetic firm's landing files.")
    parser.add_argument("--landing", required=True, type=Path, help="landing root; files go to <root>/<YYYY-MM-DD>/")
    parser.add_argument("--as-of", required=True, type=dt.date.fromisoformat, help="as-of business day, YYYY-MM-DD")
    parser.add_argument("--households", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dialects", action="store_true",
                        help="custodian facts in each custodian's dialect (Schwab, Fidelity, Pershing) instead of canonical CSV")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        summary = write_synthetic_firm(args.landing, args.as_of, households=args.households, seed=args.seed,
                                       dialects=args.dialects)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary["seconds"] = round(time.perf_counter() - started, 2)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
