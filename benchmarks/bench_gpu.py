"""Every table model on Adult at paper defaults on one device, against SDV on the same device.

For each registered table model (and SDV's CTGAN and TVAE when SDV is installed):
fit on the Adult train split (fit time includes all preprocessing), sampling
rows/s (``--sample-rows`` rows, median of 3 runs), shape and trend errors
(sdmetrics QualityReport, MEASURING.md) with the DCR share beside them (holdout:
the test split). Epochs are each model's defaults (300 for CTGAN and TVAE, as
their paper); ``--epochs`` sets fewer for every model.

Host-device copies: two short profiled fits of each synthkit model (one and two
epochs on ``--profile-rows`` rows) count the CUDA ``Memcpy HtoD`` and ``Memcpy
DtoH`` events and the host syncs (``aten::_local_scalar_dense``, what ``.item()``
runs); their difference is one epoch of training steps alone, divided by its
steps. A model whose data stays on the device shows well under one copy per step
(a loss read once per epoch); one that moves each batch shows one or more. On a
CPU there are no host-device copies: those columns read 0, and syncs are reads
of a scalar. Reads inside the optimizer's step are counted apart
(``optimizer reads/step``): Adam reads each parameter's step counter, a CPU
tensor unless the fused CUDA kernel keeps it on the device, so on a GPU they are
host reads rather than stalls; ``syncs/step`` is what the model's own code reads.

Targets (issue 13), one modern datacenter GPU: CTGAN fit <= 70 s, TVAE <= 30 s,
sampling >= 1 M rows/s (anchor: SDGym, T4: CTGAN 705 s, TVAE 320 s).

Run on a GPU:  python benchmarks/bench_gpu.py
Run on a CPU:  python benchmarks/bench_gpu.py --device cpu --quick
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import dcr_share, quality, rows_per_second, sdv_metadata

from synthkit.datasets import load_adult
from synthkit.generators import GENERATORS, Synthesizer


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed_fit(fit: Any, device: str) -> float:
    _synchronize(device)
    start = time.perf_counter()
    fit()
    _synchronize(device)
    return time.perf_counter() - start


def _scores(model_sample: Any, train: pd.DataFrame, test: pd.DataFrame) -> dict[str, float]:
    synthetic = model_sample(len(train))
    scores = quality(train, synthetic)
    return {
        "shape_err_%": scores["shape_error"],
        "trend_err_%": scores["trend_error"],
        "dcr_share": dcr_share(train, test, synthetic),
    }


def _in_optimizer_step(event: Any) -> bool:
    """Whether a profiler event ran inside an ``Optimizer.step`` call."""
    while event is not None:
        if event.name.startswith("Optimizer.step"):
            return True
        event = event.cpu_parent
    return False


def _profiled_counts(name: str, data: pd.DataFrame, device: str, epochs: int) -> Counter:
    from torch.profiler import ProfilerActivity, profile

    model = Synthesizer(name, device=device, random_state=0, verbose=False, epochs=epochs)
    activities = [ProfilerActivity.CPU]
    if device.startswith("cuda"):
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as profiler:
        model.fit(data)
        _synchronize(device)
    counts: Counter = Counter()
    for event in profiler.events():
        if "Memcpy HtoD" in event.name:
            counts["htod"] += 1
        elif "Memcpy DtoH" in event.name:
            counts["dtoh"] += 1
        elif event.name == "aten::_local_scalar_dense":
            counts["optimizer" if _in_optimizer_step(event) else "syncs"] += 1
    counts["batch"] = int(model.get_params().get("batch_size") or 500)
    return counts


def copies_per_step(name: str, data: pd.DataFrame, device: str) -> dict[str, float]:
    """Host-device copies and host syncs per training step.

    Two profiled fits, of one and of two epochs: their difference is one epoch's
    training steps alone, without the preprocessing and set-up both share.
    """
    one = _profiled_counts(name, data, device, epochs=1)
    two = _profiled_counts(name, data, device, epochs=2)
    # CTGAN's epoch is whole batches only; the other models' last batch may be short.
    rounding = math.floor if name == "ctgan" else math.ceil
    steps = max(1, rounding(len(data) / one["batch"]))
    return {
        "steps": steps,
        "HtoD/step": (two["htod"] - one["htod"]) / steps,
        "DtoH/step": (two["dtoh"] - one["dtoh"]) / steps,
        "syncs/step": (two["syncs"] - one["syncs"]) / steps,
        "optimizer reads/step": (two["optimizer"] - one["optimizer"]) / steps,
    }


def run_synthkit(
    name: str, train: pd.DataFrame, test: pd.DataFrame, args: argparse.Namespace
) -> dict[str, float]:
    params = {"device": args.device, "random_state": 0, "verbose": False}
    cls = GENERATORS.get(name)
    if args.epochs is not None and "epochs" in cls._param_names():
        params["epochs"] = args.epochs
    model = Synthesizer(name, **params)
    fit_s = _timed_fit(lambda: model.fit(train), args.device)
    row = {"epochs": float(model.get_params().get("epochs", float("nan")) or float("nan"))}
    row["fit_s"] = fit_s
    row["rows_per_s"] = rows_per_second(lambda n: model.sample(n, random_state=1), args.sample_rows)
    row.update(_scores(lambda n: model.sample(n, random_state=2), train, test))
    profile_rows = train.iloc[: args.profile_rows]
    row.update(copies_per_step(name, profile_rows, args.device))
    return row


def run_sdv(
    name: str, train: pd.DataFrame, test: pd.DataFrame, args: argparse.Namespace
) -> dict[str, float]:
    from sdv.single_table import CTGANSynthesizer, TVAESynthesizer

    cls = {"ctgan": CTGANSynthesizer, "tvae": TVAESynthesizer}[name]
    settings = {"epochs": args.epochs} if args.epochs is not None else {}
    model = cls(sdv_metadata(train), enable_gpu=args.device.startswith("cuda"), **settings)
    # SDV 2.0's single-table fit takes {"table": frame} and sample returns one.
    fit_s = _timed_fit(lambda: model.fit({"table": train}), args.device)

    def sample(n: int) -> pd.DataFrame:
        synthetic = model.sample(n)
        return synthetic["table"] if isinstance(synthetic, dict) else synthetic

    row = {"epochs": float(model.get_parameters()["epochs"]), "fit_s": fit_s}
    row["rows_per_s"] = rows_per_second(sample, args.sample_rows)
    row.update(_scores(sample, train, test))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = "cuda" if torch.cuda.is_available() else "cpu"
    parser.add_argument("--device", default=default, help=f"torch device (default {default})")
    parser.add_argument("--models", nargs="*", help="registered names (default: all)")
    parser.add_argument("--epochs", type=int, help="epochs for every model (default: its own)")
    parser.add_argument("--sample-rows", type=int, default=1_000_000)
    parser.add_argument("--profile-rows", type=int, default=20_000)
    parser.add_argument("--no-sdv", action="store_true", help="skip SDV even if installed")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 1 epoch, 2,000 training rows, 5,000 sampled rows",
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    train, test = load_adult("train"), load_adult("test")
    if args.quick:
        args.epochs = 1 if args.epochs is None else args.epochs
        train, test = train.iloc[:2_000], test.iloc[:2_000]
        args.sample_rows = min(args.sample_rows, 5_000)
        args.profile_rows = min(args.profile_rows, 2_000)
    if args.device == "cpu":
        torch.set_num_threads(max(1, torch.get_num_threads()))
    names = [GENERATORS.get(n).name for n in args.models] if args.models else GENERATORS.names()
    rows: dict[str, dict[str, float]] = {}
    for name in names:
        rows[f"synthkit {name}"] = run_synthkit(name, train, test, args)
        print(f"synthkit {name}: {rows[f'synthkit {name}']}", flush=True)
    try:
        import sdv  # noqa: F401
    except ImportError:
        print("SDV not installed: no SDV rows.")
    else:
        for name in [n for n in ("ctgan", "tvae") if n in names and not args.no_sdv]:
            rows[f"SDV {name}"] = run_sdv(name, train, test, args)
            print(f"SDV {name}: {rows[f'SDV {name}']}", flush=True)
    table = pd.DataFrame(rows).T
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(
        f"\nAdult train ({len(train):,} rows) on {args.device} ({device}), torch "
        f"{torch.__version__}, epochs={args.epochs or 'model defaults'}; sampling "
        f"{args.sample_rows:,} rows; copies per step from profiled fits of 1 and 2 epochs on "
        f"{min(args.profile_rows, len(train)):,} rows"
    )
    print(table.to_string(float_format=lambda v: f"{v:,.3f}", na_rep="-"))
    for name in ("ctgan", "tvae"):
        ours, theirs = rows.get(f"synthkit {name}"), rows.get(f"SDV {name}")
        if ours and theirs:
            print(
                f"{name}: fit {theirs['fit_s'] / ours['fit_s']:.2f}x faster than SDV, "
                f"sampling {ours['rows_per_s'] / theirs['rows_per_s']:.2f}x"
            )


if __name__ == "__main__":
    main()
