"""``python -m bench``: run the benchmarks and write their sections into docs/benchmarks.md."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench.report import machine
from bench.stack import DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, backend_named

BENCHMARKS = (
    "ingest",
    "dispatch",
    "pages",
    "previews",
    "flow",
    "scale",
    "insights",
    "training",
    "tracking",
    "serving",
    "consolidation",
    "labeling",
    "drift",
    "shap",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Sextant's benchmarks; each writes its section of the report file.",
    )
    parser.add_argument(
        "--only", choices=BENCHMARKS, action="append", help="run only this one (repeatable)"
    )
    parser.add_argument(
        "--rows", type=int, default=10_000_000, help="rows of the ingestion CSV (default 10M)"
    )
    parser.add_argument(
        "--flow-rows", type=int, default=10_000_000, help="rows of the flow benchmark (10M)"
    )
    parser.add_argument(
        "--jobs", type=int, default=200, help="timed jobs per backend for dispatch latency"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("docs/benchmarks.md"),
        help="report file whose sections are replaced (default docs/benchmarks.md)",
    )
    parser.add_argument("--no-write", action="store_true", help="print results only")
    parser.add_argument(
        "--ingest-backend",
        choices=("embedded", "services"),
        default="embedded",
        help="backend of the studio that ingests (default embedded)",
    )
    parser.add_argument(
        "--dispatch-backends",
        default="embedded,services",
        help="comma-separated backends for dispatch latency (default embedded,services)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL where scratch databases are created (and dropped)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help="Redis database the benchmarks may flush (default db 13)",
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        default=None,
        help="folder for scratch files (default: the system temp dir); emptied afterwards",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    selected = args.only or list(BENCHMARKS)
    out: Path | None = None if args.no_write else args.out
    info = machine()
    print(f"Machine: {info.markdown()}")
    if args.scratch is not None:
        args.scratch.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="sextant-bench-", dir=args.scratch))
    try:
        if "ingest" in selected:
            from bench import ingest

            with backend_named(args.ingest_backend, args.database_url, args.redis_url) as b:
                ingest.run(backend=b, scratch=scratch, rows=args.rows, out=out, machine=info)
        if "dispatch" in selected:
            from bench import dispatch

            dispatch.run(
                backends=[n.strip() for n in args.dispatch_backends.split(",") if n.strip()],
                database_url=args.database_url,
                redis_url=args.redis_url,
                scratch=scratch,
                jobs=args.jobs,
                out=out,
                machine=info,
            )
        if "pages" in selected:
            from bench import pages

            pages.run(
                database_url=args.database_url,
                redis_url=args.redis_url,
                scratch=scratch,
                out=out,
                machine=info,
            )
        if "flow" in selected:
            from bench import flow_run

            flow_run.run(scratch=scratch, rows=args.flow_rows, out=out, machine=info)
        if "scale" in selected:
            from bench import flow_scale

            flow_scale.run(scratch=scratch, rows=args.flow_rows, out=out, machine=info)
        if "insights" in selected:
            from bench import insights

            insights.run(scratch=scratch, out=out, machine=info)
        if "training" in selected:
            from bench import training

            training.run(scratch=scratch, out=out, machine=info)
        if "tracking" in selected:
            from bench import tracking

            tracking.run(
                scratch=scratch,
                out=out,
                machine=info,
                backends=[n.strip() for n in args.dispatch_backends.split(",") if n.strip()],
                database_url=args.database_url,
                redis_url=args.redis_url,
            )
        if "serving" in selected:
            from bench import serving

            serving.run(scratch=scratch, out=out, machine=info)
        if "consolidation" in selected:
            from bench import labeling_consolidation

            labeling_consolidation.run(scratch=scratch, out=out, machine=info)
        if "labeling" in selected:
            from bench import labeling_queue

            labeling_queue.run(
                scratch=scratch,
                out=out,
                machine=info,
                backends=[n.strip() for n in args.dispatch_backends.split(",") if n.strip()],
                database_url=args.database_url,
                redis_url=args.redis_url,
            )
        if "drift" in selected:
            from bench import monitor_drift

            monitor_drift.run(scratch=scratch, out=out, machine=info)
        if "shap" in selected:
            from bench import monitor_shap

            monitor_shap.run(out=out, machine=info)
        if "previews" in selected:
            from bench import previews

            previews.run(scratch=scratch, out=out, machine=info)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
