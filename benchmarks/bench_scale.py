"""Scale: (a) sharded sampling of Adult rows to partitioned Parquet on a local Dask cluster.

Fits the autoregressive model on the Adult train split (or loads ``--model``), then
writes ``--rows`` rows (default 2,000,000) in parts of ``--shard-rows`` rows with
``model.sample_to`` on a ``LocalCluster`` of 1 and then 2 worker processes (one
thread each). Prints rows/s (wall clock of the ``sample_to`` call, cluster start
excluded), each worker's peak resident memory, whether the two outputs are
byte-identical, and the ratio of 2-worker to 1-worker rows/s.

Target (issue 13): 2 workers >= 1.8x one worker's rows/s, identical bytes. On a
machine whose two cores are shared with other work the ratio is lower.

Part (b), exact DCR distances on a million rows, is ``benchmarks/bench_distances.py``.

Run: python benchmarks/bench_scale.py [--rows 2000000] [--shard-rows 100000] [--epochs 2]
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

import synthkit
from synthkit.datasets import load_adult


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux: the worker process's peak since it started.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _digests(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.glob("part-*"))}


def run(model: object, rows: int, shard_rows: int, workers: int, out: Path) -> dict[str, object]:
    from collections import Counter

    from dask.distributed import Client, LocalCluster, get_task_stream

    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: __import__("synthkit.generators.sharding"))  # imports off the clock
        start = time.perf_counter()
        with get_task_stream(client) as stream:
            manifest = model.sample_to(
                out, rows, shard_rows=shard_rows, random_state=0, client=client
            )
        seconds = time.perf_counter() - start
        shards = sorted(Counter(task["worker"] for task in stream.data).values())
        peaks = sorted(client.run(_peak_rss_mb).values())
    assert sum(part["rows"] for part in manifest["parts"]) == rows
    return {"seconds": seconds, "rows_per_s": rows / seconds, "peak_mb": peaks, "shards": shards}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--shard-rows", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=2, help="AR training epochs.")
    parser.add_argument("--model", type=Path, default=None, help="A saved model file instead.")
    args = parser.parse_args()

    if args.model is not None:
        model = synthkit.load_model(args.model)
    else:
        torch.set_num_threads(2)
        start = time.perf_counter()
        model = synthkit.Synthesizer(
            "autoregressive", epochs=args.epochs, random_state=0, verbose=False
        ).fit(load_adult("train"))
        print(
            f"fit autoregressive on Adult train ({args.epochs} epochs): "
            f"{time.perf_counter() - start:.0f} s"
        )
    print(f"(a) {args.rows:,} rows in parts of {args.shard_rows:,} rows, LocalCluster processes")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            out = Path(tmp) / f"workers-{workers}"
            results[workers] = run(model, args.rows, args.shard_rows, workers, out)
            result = results[workers]
            print(
                f"  {workers} worker(s): {result['seconds']:.1f} s, "
                f"{result['rows_per_s']:,.0f} rows/s, peak memory per worker "
                f"{', '.join(f'{mb:,.0f} MB' for mb in result['peak_mb'])}, "
                f"shards per worker {result['shards']}"
            )
        identical = _digests(Path(tmp) / "workers-1") == _digests(Path(tmp) / "workers-2")
        identical &= (Path(tmp) / "workers-1" / "_manifest.json").read_bytes() == (
            Path(tmp) / "workers-2" / "_manifest.json"
        ).read_bytes()
    ratio = results[2]["rows_per_s"] / results[1]["rows_per_s"]
    print(f"  byte-identical parts and manifest with 1 and 2 workers: {identical}")
    print(f"  2-worker / 1-worker rows/s: {ratio:.2f}x (target >= 1.8x)")
    sys.exit(0 if identical else 1)


if __name__ == "__main__":
    main()
