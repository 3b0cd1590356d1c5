"""CTGAN and TVAE: synthkit against SDV on the bundled Adult data, same epochs, same CPU.

Prints, for each model and both libraries: fit seconds (all preprocessing
included), sampling rows/s on 100,000 rows (median of 3 runs), the sdmetrics
QualityReport score with shape and trend errors, the DCR share against the real test split (privacy,
ideal 0.5), and synthkit's ratios against SDV. Then the cost of conditional
sampling of a 5 %-prevalence class against unconditional sampling.

Each library fits ``--runs`` times (synthkit with seeds 0, 1, ...; SDV unseeded),
alternating, because a GAN's score after 10 epochs varies from fit to fit; the
summary gives median speeds and mean scores.

Usage:
    python benchmarks/bench_core.py --epochs 10
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import dcr_share, quality, rows_per_second, sdv_metadata, timed

import synthkit
from synthkit.datasets import load_adult

SDV_CLASSES = {"ctgan": "CTGANSynthesizer", "tvae": "TVAESynthesizer"}


def sdv_run(name: str, train: pd.DataFrame, args: argparse.Namespace) -> dict[str, float]:
    """Fit and sample SDV's synthesizer (SDV is under the Business Source License)."""
    import sdv.single_table as single_table

    cls = getattr(single_table, SDV_CLASSES[name])
    model = cls(
        sdv_metadata(train), epochs=args.epochs, batch_size=args.batch_size, enable_gpu=False
    )
    # SDV 2.0's single-table fit takes {"table": frame}.
    _, fit_s = timed(lambda: model.fit({"table": train}))
    throughput = rows_per_second(model.sample, args.sample_rows)
    synthetic = model.sample(len(train))
    if isinstance(synthetic, dict):  # SDV 2.0 returns {"table": frame}
        synthetic = synthetic["table"]
    return {"fit_s": fit_s, "rows_per_s": throughput, "synthetic": synthetic}


def synthkit_run(
    name: str, train: pd.DataFrame, args: argparse.Namespace, seed: int = 0
) -> dict[str, float]:
    """Fit and sample synthkit's model of the same name."""
    model = synthkit.Synthesizer(
        name,
        epochs=args.epochs,
        batch_size=args.batch_size,
        device="cpu",
        verbose=False,
        random_state=seed,
    )
    _, fit_s = timed(lambda: model.fit(train))
    throughput = rows_per_second(lambda n: model.sample(n, random_state=1), args.sample_rows)
    result = {
        "fit_s": fit_s,
        "rows_per_s": throughput,
        "synthetic": model.sample(len(train), random_state=2),
        "model": model,
    }
    return result


def conditional_cost(model: synthkit.Synthesizer, train: pd.DataFrame) -> str:
    """Time 10,000 rows of the category nearest 5 % prevalence against 10,000 unconditional."""
    best = None
    for column in model.encoder_.categorical_columns:
        shares = train[column].value_counts(normalize=True)
        value = (shares - 0.05).abs().idxmin()
        if best is None or abs(shares[value] - 0.05) < abs(best[2] - 0.05):
            best = (column, value, shares[value])
    column, value, share = best
    _, plain_s = timed(lambda: model.sample(10_000, random_state=3))
    rows, cond_s = timed(lambda: model.sample(10_000, conditions={column: value}, random_state=3))
    exact = bool((rows[column] == value).all()) and len(rows) == 10_000
    return (
        f"  conditional {column}={value!r} ({share:.1%} of rows): {cond_s:.3f} s vs "
        f"unconditional {plain_s:.3f} s -> {cond_s / plain_s:.2f}x (target <= 2x); "
        f"all 10,000 rows match: {exact}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--sample-rows", type=int, default=100_000)
    parser.add_argument("--models", nargs="+", default=["ctgan", "tvae"])
    parser.add_argument("--runs", type=int, default=3, help="fits per library and model")
    parser.add_argument("--skip-sdv", action="store_true", help="measure synthkit only")
    args = parser.parse_args()

    train, test = load_adult("train"), load_adult("test")
    print(
        f"Adult train {train.shape[0]:,} rows x {train.shape[1]} columns; "
        f"{args.epochs} epochs, batch {args.batch_size}, CPU, torch threads "
        f"{torch.get_num_threads()}"
    )
    print("Real test split against train (the floor a fresh real sample reaches):")
    floor = quality(train, test)
    # For the floor's DCR share, half the test split plays synthetic, half holdout.
    half = len(test) // 2
    floor_dcr = dcr_share(train, test.iloc[half:], test.iloc[:half])
    print(
        f"  shape error {floor['shape_error']:.2f} %, trend error "
        f"{floor['trend_error']:.2f} %, DCR share {floor_dcr:.3f}"
    )
    header = (
        f"{'model':<8}{'library':<10}{'run':>4}{'fit s':>9}{'rows/s':>12}{'quality':>9}"
        f"{'shape err %':>13}{'trend err %':>13}{'DCR share':>11}"
    )
    libraries = ["synthkit"] if args.skip_sdv else ["sdv", "synthkit"]
    for name in args.models:
        print()
        print(header)
        runs: dict[str, list[dict]] = {library: [] for library in libraries}
        # Libraries alternate run by run, so a busy spell on the machine hits both.
        for seed in range(args.runs):
            for library in libraries:
                if library == "sdv":
                    run = sdv_run(name, train, args)
                else:
                    run = synthkit_run(name, train, args, seed)
                run.update(quality(train, run["synthetic"]))
                run["dcr"] = dcr_share(train, test, run["synthetic"])
                runs[library].append(run)
                print(f"{name:<8}{library:<10}{seed:>4}{_figures(run)}", flush=True)
        summary = {library: _summary(rows) for library, rows in runs.items()}
        for library, row in summary.items():
            print(f"{name:<8}{library:<10}{'all':>4}{_figures(row)}")
        print(
            f"  ({args.runs} runs each: median fit seconds and rows/s, mean quality, errors and "
            "DCR share)"
        )
        if "sdv" in summary:
            ours, theirs = summary["synthkit"], summary["sdv"]
            qualities = ", ".join(f"{r['overall']:.3f}" for r in runs["synthkit"])
            print(
                f"  ratios: fit {theirs['fit_s'] / ours['fit_s']:.1f}x faster, sampling "
                f"{ours['rows_per_s'] / theirs['rows_per_s']:.1f}x the rows/s, quality "
                f"{ours['overall'] - theirs['overall']:+.3f} (synthkit per run: {qualities})"
            )
        print(conditional_cost(runs["synthkit"][0]["model"], train))


def _figures(run: dict[str, float]) -> str:
    return (
        f"{run['fit_s']:>9.1f}{run['rows_per_s']:>12,.0f}{run['overall']:>9.3f}"
        f"{run['shape_error']:>13.2f}{run['trend_error']:>13.2f}{run['dcr']:>11.3f}"
    )


def _summary(runs: list[dict]) -> dict[str, float]:
    """Median speed and mean quality over runs (speed medians resist a busy spell)."""
    frame = pd.DataFrame([{k: v for k, v in r.items() if isinstance(v, float)} for r in runs])
    return {
        **frame[["overall", "shape_error", "trend_error", "dcr"]].mean().to_dict(),
        **frame[["fit_s", "rows_per_s"]].median().to_dict(),
    }


if __name__ == "__main__":
    main()
