"""Write and read N rows x 10 mixed columns in Parquet and CSV; show streaming memory.

Each step runs in a fresh child process, so its peak RSS (ru_maxrss) is its own.
Usage: python benchmarks/bench_connectors.py [--rows 10000000]

Streaming is measured on a Parquet file of 10 (then 50) batches, each batch
one row group, read with ``synthkit.connectors.iter_batches``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_table(rows: int):
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(0)
    codes = np.char.zfill(np.arange(1000).astype(str), 5)
    return pa.table(
        {
            "id": np.arange(rows, dtype=np.int64),
            "age": rng.integers(18, 90, rows),
            "income": rng.normal(50_000, 15_000, rows).round(2),
            "score": rng.random(rows),
            "zip": pa.array(codes[rng.integers(0, 1000, rows)]),
            "state": pa.array(np.array(["CA", "NY", "TX", "WA"])[rng.integers(0, 4, rows)]),
            "member": rng.random(rows) < 0.3,
            "visits": rng.poisson(3, rows),
            "when": pa.array(
                np.datetime64("2024-01-01") + rng.integers(0, 86_400 * 365, rows).astype("m8[s]")
            ).cast(pa.timestamp("ns")),
            "balance": rng.normal(0, 1000, rows),
        }
    )


def child(step: str, fmt: str, rows: int, folder: str, batch: int) -> dict:
    from synthkit.connectors import iter_batches, load, save

    path = Path(folder) / f"data.{fmt}"
    stream_path = Path(folder) / f"stream-{batch}.parquet"
    started = time.perf_counter()
    if step == "make":
        return {"table_mb": make_table(rows).nbytes / 2**20}
    if step == "write":
        table = make_table(rows)
        started = time.perf_counter()
        save(table, path)
    elif step == "read":
        table = load(path, as_arrow=True, **({"parse_dates": ["when"]} if fmt == "csv" else {}))
        assert table.num_rows == rows
    elif step == "stream-write":
        save(make_table(rows), stream_path, row_group_size=batch)
    elif step == "stream":
        seen = sum(b.num_rows for b in iter_batches(stream_path, batch_size=batch))
        assert seen == rows
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import pyarrow as pa

    arrow_mb = pa.default_memory_pool().max_memory() / 2**20
    return {"seconds": seconds, "peak_mb": peak_mb, "arrow_mb": arrow_mb}


def run(step: str, fmt: str, rows: int, folder: str, batch: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", step, fmt, str(rows), folder, str(batch)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        step, fmt, rows, folder, batch = args.child
        print(json.dumps(child(step, fmt, int(rows), folder, int(batch))))
        return
    rows = args.rows
    with tempfile.TemporaryDirectory(prefix="bench-connectors-") as folder:
        base = run("baseline", "-", rows, folder, 0)["peak_mb"]
        table_mb = run("make", "-", rows, folder, 0)["table_mb"]
        print(
            f"{rows:,} rows x 10 columns (int, float, bool, timestamp, text codes); "
            f"{table_mb:.0f} MB in Arrow; a process with synthkit imported peaks at {base:.0f} MB"
        )
        print(
            f"{'format':8} {'step':6} {'seconds':>8} {'rows/s':>12} {'peak RSS MB':>12} "
            f"{'Arrow peak MB':>14} {'file MB':>8}"
        )
        for fmt in ("parquet", "csv"):
            for step in ("write", "read"):
                result = run(step, fmt, rows, folder, 0)
                size = (Path(folder) / f"data.{fmt}").stat().st_size / 2**20
                print(
                    f"{fmt:8} {step:6} {result['seconds']:8.2f} "
                    f"{rows / result['seconds']:12,.0f} {result['peak_mb']:12.0f} "
                    f"{result['arrow_mb']:14.0f} {size:8.0f}"
                )
        print("(a write step's RSS includes building the table in that process)")
        for batches in (10, 50):
            batch = rows // batches
            run("stream-write", "parquet", rows, folder, batch)
            result = run("stream", "parquet", rows, folder, batch)
            batch_mb = table_mb / batches
            extra = result["peak_mb"] - base
            print(
                f"stream parquet in {batches} batches of {batch:,} rows (~{batch_mb:.0f} MB each): "
                f"{rows / result['seconds']:,.0f} rows/s; RSS above an idle process "
                f"{extra:.0f} MB = {extra / batch_mb:.1f} batches; Arrow allocator peak "
                f"{result['arrow_mb']:.0f} MB = {result['arrow_mb'] / batch_mb:.1f} batches "
                f"(the whole table: {table_mb:.0f} MB)"
            )


if __name__ == "__main__":
    main()
