"""Scale (b): exact DCR share distances on Adult-like data of a million rows, chunked on both sides.

Builds Adult-like training and holdout tables of ``--rows`` rows each by
replicating the Adult train and test splits with jitter on every number (1 % of
the column's standard deviation, rounded as the column is), and synthetic-like
queries the same way, with another seed, from as many train as test rows (so
they are as close to the training rows as to the holdout rows: a DCR share near
0.5). The DCR share needs,
for every synthetic row, its 2 nearest training rows and its nearest holdout row
(``nearest_l1``, exact, Gower-like L1); this script times that on a fifth of
``--queries`` and on ``--queries`` synthetic rows against all ``--rows`` training
and holdout rows, prints the throughput and peak memory, and extrapolates (a
fixed cost plus a cost per synthetic row, fitted on the two sizes; the queries
are drawn alike) to ``--target-queries`` rows,
labelled as an extrapolation unless the two are equal.

Baseline, in the same run: scikit-learn's ``NearestNeighbors(algorithm="brute",
metric="manhattan")`` on the same encoded rows (numbers and one-hot levels halved,
whose L1 distance is the same Gower-like distance) at ``--baseline-queries`` x
``--baseline-rows``, checked to give the same distances, with the time ratio.

Target (issue 13): 1 M x 1 M under 10 minutes on 2 cores, under 4 GB.

Run: python benchmarks/bench_distances.py [--rows 1000000] [--queries 100000] [--threads 2]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd
import torch

from synthkit.datasets import load_adult
from synthkit.evaluation.neighbors import MEMORY_BUDGET, MixedEncoder, nearest_l1


def adult_like(source: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """``rows`` rows of ``source`` replicated, every number jittered by 1 % of its spread."""
    rng = np.random.default_rng(seed)
    frame = source.iloc[rng.integers(0, len(source), rows)].reset_index(drop=True)
    for column in frame.select_dtypes("number").columns:
        values = frame[column].to_numpy(dtype=float)
        noisy = values + rng.normal(0.0, 0.01 * np.nanstd(values), rows)
        integral = np.allclose(source[column].dropna() % 1, 0)
        frame[column] = np.round(noisy) if integral else noisy
    return frame


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="training = holdout rows")
    parser.add_argument("--queries", type=int, default=100_000, help="synthetic rows timed")
    parser.add_argument("--target-queries", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=50_000)
    parser.add_argument("--baseline-queries", type=int, default=1_000)
    parser.add_argument("--memory-budget", type=int, default=MEMORY_BUDGET)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--method", default="auto", choices=["auto", "brute", "grouped"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    train_split, test_split = load_adult("train"), load_adult("test")
    start = time.perf_counter()
    train = adult_like(train_split, args.rows, seed=0)
    holdout = adult_like(test_split, args.rows, seed=1)
    # Synthetic-like rows from both splits: as close to training as to holdout rows.
    both = pd.concat([train_split.iloc[: len(test_split)], test_split], ignore_index=True)
    synthetic = adult_like(both, args.queries, seed=2)
    numeric = list(train.select_dtypes("number").columns)
    discrete = [c for c in train.columns if c not in numeric]
    encoder = MixedEncoder(numeric, discrete).fit(train, [train, holdout, synthetic])
    encoded = {name: encoder.transform(f) for name, f in [("train", train), ("holdout", holdout)]}
    queries = encoder.transform(synthetic)
    print(
        f"built and encoded {args.rows:,} training + {args.rows:,} holdout rows "
        f"({queries.numbers.shape[1]} numbers, {queries.onehot.shape[1]} one-hot levels) "
        f"in {time.perf_counter() - start:.0f} s; peak memory so far {_peak_gb():.2f} GB"
    )

    options = {"device": args.device, "memory_budget": args.memory_budget, "method": args.method}
    timings = []
    for size in sorted({max(1, args.queries // 5), args.queries}):
        subset = queries.take(np.arange(size))
        start = time.perf_counter()
        to_train, _ = nearest_l1(subset, encoded["train"], k=2, **options)
        to_holdout, _ = nearest_l1(subset, encoded["holdout"], k=1, **options)
        seconds = time.perf_counter() - start
        timings.append((size, seconds))
        closer = to_train[:, 0] < to_holdout[:, 0]
        ties = to_train[:, 0] == to_holdout[:, 0]
        share = float(closer.mean() + 0.5 * ties.mean())
        print(
            f"(b) exact DCR distances, {size:,} synthetic x {args.rows:,} training + "
            f"{args.rows:,} holdout rows on {args.device}, method {args.method} "
            f"({args.threads} threads, blocks within {args.memory_budget / 2**20:,.0f} MiB): "
            f"{seconds:.1f} s, {2 * size * args.rows / seconds / 1e6:,.1f} M row pairs/s, "
            f"peak memory {_peak_gb():.2f} GB; DCR share {share:.3f}"
        )
    # Time = fixed cost (grouping the reference) + a cost per query, from the two sizes.
    (small_n, small_s), (large_n, large_s) = timings[0], timings[-1]
    per_query = (large_s - small_s) / max(large_n - small_n, 1) if large_n > small_n else 0.0
    fixed = max(large_s - per_query * large_n, 0.0)
    estimate = fixed + per_query * args.target_queries
    label = "measured" if large_n == args.target_queries else "EXTRAPOLATED"
    print(
        f"    {args.target_queries:,} x {args.rows:,}: {estimate / 60:,.1f} min [{label}: fixed "
        f"{fixed:.0f} s + {per_query * 1e3:.2f} ms per synthetic row, from the two sizes "
        f"above]; target < 10 min on 2 cores"
    )

    from sklearn.neighbors import NearestNeighbors

    reference = encoded["train"].take(np.arange(min(args.baseline_rows, args.rows)))
    small = queries.take(np.arange(min(args.baseline_queries, args.queries)))

    def dense(rows):  # L1 over halved one-hot levels counts each mismatch once
        return torch.cat([rows.numbers, rows.onehot * 0.5], dim=1).double().numpy()

    start = time.perf_counter()
    ours, _ = nearest_l1(small, reference, k=2, device=args.device, method=args.method)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    index = NearestNeighbors(n_neighbors=2, algorithm="brute", metric="manhattan", n_jobs=1)
    theirs, _ = index.fit(dense(reference)).kneighbors(dense(small))
    theirs_s = time.perf_counter() - start
    same = np.allclose(ours, theirs, atol=1e-4)
    print(
        f"baseline, {len(small):,} x {len(reference):,} rows, k=2: synthkit {ours_s:.2f} s, "
        f"scikit-learn brute force {theirs_s:.2f} s, ratio {theirs_s / ours_s:.2f}x; "
        f"same distances: {same}"
    )


if __name__ == "__main__":
    main()
