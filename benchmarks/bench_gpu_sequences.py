"""Sequences, record databases and private sequences on a GPU, against the CPU in the same run.

Each part fits the same model with the same seed on ``--device`` (a GPU) and on
the CPU of the same machine, and prints fit seconds, sampling speed and the
fidelity figures with the entity-level DCR share beside them, then the GPU/CPU
ratios. The CPU runs with every core the machine has (``torch threads`` is
printed), so the ratio is against a strong CPU, not the 2-core target machine.

Parts (``--parts``):

- ``seq``: NAFLD patients (context) with their lab tests, ``--entities`` patients
  split in halves by patient (bench_sequences.py's split and scoring);
- ``sample``: entities drawn per second, histories of about 10 events (a model of
  the first 10 events of 2,000 replicated NAFLD-shaped entities, 3 epochs), a
  large draw so the GPU's batches fill;
- ``scale``: 50,000 entities x 45 events (bench_sequences.py's scale set) at the
  default schedule on the GPU, one epoch on the CPU: seconds per epoch compared;
- ``records``: the NAFLD database (patients -> labs, patients -> events),
  ``--patients`` patients, root-entity DCR share against held-out patients;
- ``dp``: the sequence model at epsilon 4 (per-entity DP-SGD under ``vmap``).

Run on a GPU:  python benchmarks/bench_gpu_sequences.py --data DIR
Run on a CPU:  python benchmarks/bench_gpu_sequences.py --device cpu --entities 400 --parts seq
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_records
import bench_sequences
from bench_sequences import FIDELITY, Split, nafld, ours, scale_events, split

import synthkit

# bench_sequences.py's fidelity figures this benchmark prints, with the DCR share.
SEQ_FIGURES = [*FIDELITY[:6], "dcr_share"]
RECORD_FIGURES = [
    "referential_integrity",
    "cardinality_similarity",
    "inter_table_trends",
    "dcr_share",
]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn: Any, device: str) -> tuple[Any, float]:
    _sync(device)
    start = time.perf_counter()
    result = fn()
    _sync(device)
    return result, time.perf_counter() - start


def _gpu_peak_gb(device: str) -> str:
    if not device.startswith("cuda"):
        return "-"
    return f"{torch.cuda.max_memory_allocated() / 1024**3:.2f}"


def _reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def _side_by_side(title: str, rows: dict[str, dict[str, float]], devices: list[str]) -> None:
    """One line per figure: its value on each device, and the first over the last."""
    print(f"\n{title}")
    print(f"{'figure':<30}" + "".join(f"{d:>12}" for d in devices) + f"{'ratio':>10}")
    figures = [f for f in rows[devices[0]] if all(f in rows[d] for d in devices)]
    for figure in figures:
        values = [rows[d][figure] for d in devices]
        first, last = values[0], values[-1]
        ratio = f"{first / last:.2f}" if last else "-"
        print(f"{figure:<30}" + "".join(f"{v:>12.3f}" for v in values) + f"{ratio:>10}")
    sys.stdout.flush()


def part_seq(data: Split, devices: list[str]) -> None:
    rows: dict[str, dict[str, float]] = {}
    dataset = synthkit.SequenceDataset(data.train, data.key, data.index)
    n = len(data.train_ctx)
    for device in devices:
        _reset_peak(device)
        model = synthkit.SequenceSynthesizer("ar", random_state=0, device=device, verbose=False)
        _, fit_s = _timed(lambda m=model: m.fit(dataset, context=data.train_ctx), device)
        drawn, sample_s = _timed(lambda m=model: m.sample(n_entities=n, random_state=1), device)
        scores = ours(data, drawn.data, drawn.context, 0)
        rows[device] = {
            "fit seconds": fit_s,
            "epochs run": float(len(model.loss_history_)),
            "entities/s sampling": n / sample_s,
            **{f: scores[f] for f in SEQ_FIGURES if f in scores},
        }
        print(
            f"seq {device}: schedule {model.schedule_}, index bound "
            f"{model.layout_.get('index_bound')}, GPU peak GB {_gpu_peak_gb(device)}",
            flush=True,
        )
    _side_by_side(
        f"NAFLD sequences, {len(data.train_ctx):,} training patients "
        f"({len(data.train):,} lab tests)",
        rows,
        devices,
    )


def part_sample(devices: list[str], n_draw: int) -> None:
    events, _ = scale_events(2_000, 45)
    short = events[events.groupby("id").cumcount() < 10]
    rows: dict[str, dict[str, float]] = {}
    for device in devices:
        model = synthkit.SequenceSynthesizer(
            "ar", epochs=3, random_state=0, device=device, verbose=False
        ).fit(synthkit.SequenceDataset(short, "id", "days"))
        model.sample(n_entities=2_000, random_state=0)  # warm-up
        drawn, seconds = _timed(lambda m=model: m.sample(n_entities=n_draw, random_state=1), device)
        rows[device] = {
            "entities/s": n_draw / seconds,
            "events per history": len(drawn.data) / n_draw,
        }
    _side_by_side(f"sampling {n_draw:,} entities (histories of ~10 events)", rows, devices)


def part_scale(devices: list[str]) -> None:
    events, _ = scale_events(50_000, 45)
    rows: dict[str, dict[str, float]] = {}
    for device in devices:
        # The CPU fits one epoch (the default schedule would take minutes there): the
        # figure compared is seconds per epoch, preprocessing and calibration included.
        epochs = {} if device != "cpu" else {"epochs": 1}
        _reset_peak(device)
        model = synthkit.SequenceSynthesizer(
            "ar", random_state=0, device=device, verbose=False, **epochs
        )
        _, seconds = _timed(
            lambda m=model: m.fit(synthkit.SequenceDataset(events, "id", "days")), device
        )
        ran = len(model.loss_history_)
        rows[device] = {"seconds per epoch": seconds / ran}
        print(
            f"scale {device}: {len(events):,} rows, schedule {model.schedule_}, {ran} epochs "
            f"run, fit {seconds:.0f} s, GPU peak GB {_gpu_peak_gb(device)}",
            flush=True,
        )
    _side_by_side("scale: 50,000 entities x 45 events (2.25 M rows)", rows, devices)


def part_records(devices: list[str], patients: int) -> None:
    train, holdout = bench_records.nafld(patients, 0)
    rows: dict[str, dict[str, float]] = {}
    for device in devices:
        model = synthkit.RecordSynthesizer("ar", random_state=0, device=device, verbose=False)
        _, fit_s = _timed(lambda m=model: m.fit(train), device)
        synthetic, sample_s = _timed(lambda m=model: m.sample(random_state=1), device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = bench_records.record_metrics(train, synthetic, holdout, "patients")
        if isinstance(scores, str):
            print(f"records {device}: {scores}")
            continue
        rows[device] = {
            "fit seconds": fit_s,
            "sample seconds": sample_s,
            **{f: float(scores[f]) for f in RECORD_FIGURES if isinstance(scores.get(f), float)},
        }
        print(f"records {device}: root DCR share over draws {scores.get('dcr_share_mean')}")
    if len(rows) == len(devices):
        _side_by_side(f"NAFLD database, {patients:,} patients (80 % training)", rows, devices)


def part_dp(data: Split, devices: list[str]) -> None:
    rows: dict[str, dict[str, float]] = {}
    dataset = synthkit.SequenceDataset(data.train, data.key, data.index)
    for device in devices:
        model = synthkit.SequenceSynthesizer(
            "ar", epsilon=4.0, random_state=0, device=device, verbose=False
        )
        _, fit_s = _timed(lambda m=model: m.fit(dataset, context=data.train_ctx), device)
        drawn = model.sample(n_entities=len(data.train_ctx), random_state=1)
        scores = ours(data, drawn.data, drawn.context, 0)
        rows[device] = {
            "fit seconds": fit_s,
            "epsilon spent": float(model.epsilon_spent_),
            **{f: scores[f] for f in SEQ_FIGURES if f in scores},
        }
    _side_by_side("NAFLD sequences at epsilon 4 (privacy unit: patient)", rows, devices)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--data", type=Path, default=bench_sequences.DATA)
    parser.add_argument("--parts", default="seq,sample,scale,records,dp")
    parser.add_argument("--entities", type=int, default=3_000, help="NAFLD patients (seq, dp)")
    parser.add_argument("--patients", type=int, default=3_000, help="NAFLD patients (records)")
    parser.add_argument("--sample-entities", type=int, default=200_000)
    args = parser.parse_args()
    bench_sequences.DATA = bench_records.DATA = args.data
    devices = [args.device] if args.device == "cpu" else [args.device, "cpu"]
    torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])  # pay torch's first-use cost once
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(
        f"device {args.device} ({name}); cpu cores {os.cpu_count()}, torch threads "
        f"{torch.get_num_threads()}; torch {torch.__version__}; numpy {np.__version__}",
        flush=True,
    )
    data = split("NAFLD", nafld, args.entities, 0)
    parts = args.parts.split(",")
    for part in parts:
        start = time.perf_counter()
        if part == "seq":
            part_seq(data, devices)
        elif part == "sample":
            part_sample(devices, args.sample_entities)
        elif part == "scale":
            part_scale(devices)
        elif part == "records":
            part_records(devices, args.patients)
        elif part == "dp":
            part_dp(data, devices)
        else:
            raise SystemExit(f"unknown part {part!r}; choose from seq,sample,scale,records,dp")
        print(f"[{part}: {time.perf_counter() - start:.0f} s]", flush=True)


if __name__ == "__main__":
    main()
