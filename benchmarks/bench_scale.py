"""Scale: (a) sharded sampling on a local Dask cluster; (c) streamed fit; (d) streamed evaluation.

Part (a) fits the autoregressive model on the Adult train split (or loads ``--model``),
then writes ``--rows`` rows (default 2,000,000) in parts of ``--shard-rows`` rows with
``model.sample_to`` on a ``LocalCluster`` of 1 and then 2 worker processes (one
thread each). Prints rows/s (wall clock of the ``sample_to`` call, cluster start
excluded), each worker's peak resident memory, whether the two outputs are
byte-identical, and the ratio of 2-worker to 1-worker rows/s.
Target (issue 13): 2 workers >= 1.8x one worker's rows/s, identical bytes. On a
machine whose two cores are shared with other work the ratio is lower.

Part (b), exact DCR distances on a million rows, is ``benchmarks/bench_distances.py``.

Part (c) builds a Parquet file of Adult train replicated under new keys (a unique
``person_id`` per row) until the table takes ten times ``--budget`` in pandas, then
fits the autoregressive model on it twice with the same parameters: streamed
(``fit(path, memory_budget=budget)``) and in memory (the loaded frame). It prints
each fit's seconds and growth of peak resident memory, and the streamed fit's
growth beyond its fixed overhead (the growth of the same streamed fit on one row
group: libraries' pools, the model, one batch) against the budget; then each
model's shape and trend errors (32,561 rows against Adult train, key dropped) with
the DCR share against the Adult test split. Peak memory is the process's VmHWM,
reset after returning freed memory to the system; a first streamed fit on a
small file pays the one-time imports. Linux only.
Targets (issue 13): growth within 1.5x the budget; shape and trend errors within
0.2 points of the in-memory fit.

Part (d) evaluates a table larger than the budget: the same replicated Adult train
(part (c)'s file) as the real table, against a synthetic table of as many rows
(the autoregressive model fitted in memory on Adult train for ``--epochs``
epochs, sampled, given new keys) with the Adult test split as holdout, first
streamed (``synthkit.evaluate(path, path, holdout=path, memory_budget=budget)``)
and then in memory on the loaded frames. It prints each run's wall and CPU seconds
and peak memory growth (the streamed run's beyond its fixed overhead, the same
evaluation on one row group of each table, against the budget), and each
metric's streamed figure beside the in-memory one, with how the streamed one was
computed and the row samples' sizes.
Targets: growth within 1.5x the budget; column shapes and pair trends equal to
the in-memory figures (to 1e-9 where the statistics are exact).

Run: python benchmarks/bench_scale.py [--part a] [--rows 2000000] [--shard-rows 100000]
     python benchmarks/bench_scale.py --part c [--budget 32MB] [--epochs 1]
     python benchmarks/bench_scale.py --part d [--budget 32MB] [--epochs 1]
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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

    from dask.distributed import Client, get_task_stream

    from synthkit.generators.sharding import local_cluster

    # The cluster sample_to starts for itself (one thread per worker, glibc's malloc kept).
    with local_cluster(workers) as cluster, Client(cluster) as client:
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


def _rss(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _peak_growth(fit: object) -> tuple[object, float, float]:
    """Run ``fit()``; return its result, seconds and growth of peak resident memory (bytes)."""
    import ctypes
    import gc

    import pyarrow as pa

    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    pa.default_memory_pool().release_unused()
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current size
    base = _rss("VmRSS:")
    start = time.perf_counter()
    result = fit()
    return result, time.perf_counter() - start, _rss("VmHWM:") - base


def _replicated_adult(path: Path, budget: int, row_group_size: int) -> tuple[int, int]:
    """Write Adult train replicated under new keys to ``path`` until it takes 10x ``budget``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    adult = load_adult("train")
    per_copy = int(adult.memory_usage(deep=True, index=False).sum()) + 8 * len(adult)
    copies = -(-10 * budget // per_copy)
    writer = None
    for copy in range(copies):
        part = adult.copy()
        part.insert(0, "person_id", np.arange(len(adult), dtype=np.int64) + copy * len(adult))
        table = pa.Table.from_pandas(part, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=row_group_size)
    writer.close()
    return copies * len(adult), copies * per_copy


def part_c(budget_text: str, epochs: int) -> bool:
    """The streamed fit against the in-memory fit on Adult replicated to 10x the budget."""
    import pyarrow.parquet as pq
    from _measure import dcr_share, quality

    from synthkit.generators.streamed_budget import parse_memory

    torch.set_num_threads(2)
    budget = parse_memory(budget_text)
    train, test = load_adult("train"), load_adult("test")
    params = {"epochs": epochs, "random_state": 0, "verbose": False}
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "adult-replicated.parquet"
        rows, in_memory_bytes = _replicated_adult(big, budget, row_group_size=32_768)
        print(
            f"(c) streamed fit: Adult train replicated under new keys, {rows:,} rows, "
            f"{in_memory_bytes / 1e6:,.0f} MB in pandas ({in_memory_bytes / budget:.1f}x the "
            f"budget), {big.stat().st_size / 1e6:,.0f} MB on disk; budget {budget / 1e6:,.0f} MB; "
            f"autoregressive, {epochs} epoch(s)"
        )
        one_group = Path(tmp) / "one-row-group.parquet"
        pq.write_table(pq.ParquetFile(big).read_row_group(0), one_group)

        def streamed(path: Path) -> object:
            return synthkit.Synthesizer("autoregressive", **params).fit(path, memory_budget=budget)

        streamed(one_group)  # one-time imports and first calls, off the measurement
        _, _, fixed = _peak_growth(lambda: streamed(one_group))
        model, seconds, growth = _peak_growth(lambda: streamed(big))
        print(
            f"  streamed : {seconds:6.0f} s, peak memory growth {growth / 1e6:,.0f} MB; fixed "
            f"overhead (same fit on one row group) {fixed / 1e6:,.0f} MB; beyond it "
            f"{(growth - fixed) / 1e6:,.0f} MB = {(growth - fixed) / budget:.2f}x the budget "
            "(target <= 1.5x)"
        )

        def in_memory() -> object:
            return synthkit.Synthesizer("autoregressive", **params).fit(synthkit.load(big))

        baseline, base_seconds, base_growth = _peak_growth(in_memory)
        print(
            f"  in memory: {base_seconds:6.0f} s, peak memory growth {base_growth / 1e6:,.0f} MB "
            f"({base_growth / budget:.1f}x the budget)"
        )
    scores = {}
    for name, fitted in (("streamed", model), ("in memory", baseline)):
        synthetic = fitted.sample(len(train), random_state=0).drop(columns="person_id")
        scores[name] = {**quality(train, synthetic), "dcr": dcr_share(train, test, synthetic)}
        print(
            f"  {name:9}: shape error {scores[name]['shape_error']:.2f} %, trend error "
            f"{scores[name]['trend_error']:.2f} %, DCR share {scores[name]['dcr']:.3f}"
        )
    shape_gap = scores["streamed"]["shape_error"] - scores["in memory"]["shape_error"]
    trend_gap = scores["streamed"]["trend_error"] - scores["in memory"]["trend_error"]
    within = (growth - fixed) <= 1.5 * budget and shape_gap <= 0.2 and trend_gap <= 0.2
    print(
        f"  streamed minus in memory: shape {shape_gap:+.2f} points, trend {trend_gap:+.2f} "
        f"points (target <= +0.2); targets met: {within}"
    )
    return within


_EVALUATED = [
    "column_shapes",
    "column_pair_trends",
    "detection_auc",
    "tstr_auc",
    "dcr_share",
    "exact_match_rate",
]


def _synthetic_adult(path: Path, rows: int, epochs: int, row_group_size: int) -> None:
    """Write ``rows`` rows of the autoregressive model fitted on Adult train, under new keys."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    model = synthkit.Synthesizer("autoregressive", epochs=epochs, random_state=0, verbose=False)
    model.fit(load_adult("train"))
    writer = None
    for start in range(0, rows, 100_000):
        part = model.sample(min(100_000, rows - start), random_state=start)
        part.insert(0, "person_id", np.arange(len(part), dtype=np.int64) + 10**9 + start)
        table = pa.Table.from_pandas(part, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=row_group_size)
    writer.close()


def _timed_growth(run: object) -> tuple[object, float, float, float]:
    """:func:`_peak_growth` with the process's CPU seconds (all threads) as well."""
    cpu = time.process_time()
    result, seconds, growth = _peak_growth(run)
    return result, seconds, time.process_time() - cpu, growth


def part_d(budget_text: str, epochs: int) -> bool:
    """Streamed against in-memory evaluation of Adult replicated to 10x the budget.

    The streamed evaluation runs at the budget and at four times it (the table
    still larger): the row samples grow with the budget, the exact figures do not move.
    """
    import pyarrow.parquet as pq

    from synthkit.generators.streamed_budget import parse_memory

    torch.set_num_threads(1)
    budget = parse_memory(budget_text)
    budgets = (budget, 4 * budget)
    with tempfile.TemporaryDirectory() as tmp:
        real = Path(tmp) / "real.parquet"
        rows, in_memory_bytes = _replicated_adult(real, budget, row_group_size=32_768)
        synthetic, holdout = Path(tmp) / "synthetic.parquet", Path(tmp) / "holdout.parquet"
        _synthetic_adult(synthetic, rows, epochs, row_group_size=32_768)
        test = load_adult("test")
        test.insert(0, "person_id", range(-len(test), 0))
        synthkit.save(test, holdout)
        print(
            f"(d) streamed evaluation: real = Adult train replicated under new keys, {rows:,} "
            f"rows, {in_memory_bytes / 1e6:,.0f} MB in pandas; synthetic = autoregressive "
            f"({epochs} epoch(s), fitted on Adult train), {rows:,} rows; holdout = Adult test, "
            f"{len(test):,} rows; budgets {', '.join(f'{b / 1e6:,.0f} MB' for b in budgets)}"
        )
        small = {}
        for name, path in (("real", real), ("synthetic", synthetic)):
            small[name] = Path(tmp) / f"one-row-group-{name}.parquet"
            pq.write_table(pq.ParquetFile(path).read_row_group(0), small[name])

        def streamed(real_path: Path, synthetic_path: Path, size: int) -> Any:
            return synthkit.evaluate(
                real_path,
                synthetic_path,
                holdout=holdout,
                target="income",
                metrics=_EVALUATED,
                memory_budget=size,
            )

        streamed(small["real"], small["synthetic"], budget)  # one-time imports, off the clock
        reports, within = [], True
        for size in budgets:
            _, _, _, fixed = _timed_growth(
                lambda size=size: streamed(small["real"], small["synthetic"], size)
            )
            report, seconds, cpu, growth = _timed_growth(
                lambda size=size: streamed(real, synthetic, size)
            )
            reports.append(report)
            within &= (growth - fixed) <= 1.5 * size
            print(
                f"  streamed, budget {size / 1e6:,.0f} MB (table {in_memory_bytes / size:.1f}x "
                f"it): {seconds:4.0f} s wall, {cpu:4.0f} s CPU, peak memory growth "
                f"{growth / 1e6:,.0f} MB; fixed overhead (same evaluation on one row group of "
                f"each) {fixed / 1e6:,.0f} MB; beyond it {(growth - fixed) / 1e6:,.0f} MB = "
                f"{(growth - fixed) / size:.2f}x the budget (target <= 1.5x)"
            )

        def in_memory() -> Any:
            return synthkit.evaluate(
                synthkit.load(real),
                synthkit.load(synthetic),
                holdout=synthkit.load(holdout),
                target="income",
                metrics=_EVALUATED,
            )

        baseline, base_seconds, base_cpu, base_growth = _timed_growth(in_memory)
        print(
            f"  in memory: {base_seconds:4.0f} s wall, {base_cpu:4.0f} s CPU, peak memory growth "
            f"{base_growth / 1e6:,.0f} MB ({base_growth / budget:.1f}x the smaller budget)"
        )
    heads = "".join(f"{f'{b / 1e6:,.0f} MB':>9}" for b in budgets)
    print(f"  {'metric':20}{heads}{'in memory':>10}  how streamed")
    for name in _EVALUATED:
        values = "".join(f"{r[name]:9.4f}" for r in reports)
        print(f"  {name:20}{values}{baseline[name]:10.4f}  {reports[0].info[name]['streamed']}")
    for size, report in zip(budgets, reports, strict=True):
        samples = "; ".join(f"{k}: {v}" for k, v in report.meta["sampling"].items())
        print(f"  samples at {size / 1e6:,.0f} MB: {samples}")
    for size, report in zip(budgets, reports, strict=True):
        gaps = {n: abs(report[n] - baseline[n]) for n in ("column_shapes", "column_pair_trends")}
        shapes = report.details["column_shapes"]
        sampled = [c for c, e in shapes["columns"].items() if not e["exact"]]
        # Pair trends are exact; column shapes too, or within their stated bound.
        bound = shapes["error_bound"] if sampled else 1e-9
        within &= gaps["column_pair_trends"] <= 1e-9 and gaps["column_shapes"] <= bound
        print(
            f"  |streamed - in memory| at {size / 1e6:,.0f} MB: column_shapes "
            f"{gaps['column_shapes']:.1e} (stated bound {bound:.1e}; columns from value "
            f"samples: {sampled}), column_pair_trends {gaps['column_pair_trends']:.1e}"
        )
    print(f"  targets met: {within}")
    return within


def part_a(args: argparse.Namespace) -> bool:
    """Sharded sampling with 1 and 2 workers: rows/s, peak memory, identical bytes."""
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
    return identical


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["a", "c", "d", "all"], default="a")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--shard-rows", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=None, help="AR epochs (a: 2, c: 1).")
    parser.add_argument("--model", type=Path, default=None, help="(a) a saved model file.")
    parser.add_argument("--budget", default="32MB", help="(c, d) the streamed memory budget.")
    args = parser.parse_args()
    ok = True
    if args.part in ("a", "all"):
        args_a = argparse.Namespace(**{**vars(args), "epochs": args.epochs or 2})
        ok &= part_a(args_a)
    if args.part in ("c", "all"):
        ok &= part_c(args.budget, args.epochs or 1)
    if args.part in ("d", "all"):
        ok &= part_d(args.budget, args.epochs or 1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
