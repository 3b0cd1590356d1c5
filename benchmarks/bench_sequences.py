"""Sequence model benchmark on NAFLD: patients (context) and their lab tests (events).

Entities are split into a training and a holdout set. The model is fitted on the
training patients with their lab histories; every score is printed for the
synthetic entities and for the holdout (the floor a perfect model reaches):

- fit seconds and sampling entities per second;
- length similarity: 1 - KS statistic of events per entity (zeros included);
- gap similarity: 1 - KS statistic of the index's differences within entities;
- per-column shape similarity of event columns (1 - KS for numbers, 1 - TVD
  for categories);
- entity-level DCR share: per-entity feature vectors (length, index span, first
  and mean values of numbers, category shares), the share of synthetic
  entities closer to a training entity than to a holdout one (0.5 is ideal).

Usage: python benchmarks/bench_sequences.py --entities 2000 --epochs 10
       python benchmarks/bench_sequences.py --quick   # 3,000 patients, 15 epochs
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from sklearn.neighbors import NearestNeighbors

import synthkit

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
KEY, INDEX = "id", "days"


def lengths(events: pd.DataFrame, context: pd.DataFrame) -> np.ndarray:
    return events.groupby(KEY).size().reindex(context[KEY], fill_value=0).to_numpy()


def gaps(events: pd.DataFrame) -> np.ndarray:
    return events.groupby(KEY)[INDEX].diff().dropna().to_numpy()


def shape_similarity(real: pd.Series, other: pd.Series) -> float:
    if pd.api.types.is_numeric_dtype(real):
        return 1 - ks_2samp(real.dropna(), other.dropna()).statistic
    p = real.value_counts(normalize=True)
    q = other.value_counts(normalize=True)
    return 1 - 0.5 * p.subtract(q, fill_value=0).abs().sum()


def entity_features(events: pd.DataFrame, context: pd.DataFrame) -> pd.DataFrame:
    """One row per entity: length, span, first and mean values, category shares."""
    grouped = events.groupby(KEY)
    parts = [grouped.size().rename("length"), (grouped[INDEX].max() - grouped[INDEX].min())]
    for column in events.columns.drop([KEY, INDEX]):
        if pd.api.types.is_numeric_dtype(events[column]):
            parts += [grouped[column].first().add_suffix(""), grouped[column].mean()]
            parts[-2].name, parts[-1].name = f"{column}_first", f"{column}_mean"
        else:
            shares = pd.crosstab(events[KEY], events[column], normalize="index")
            parts += [shares[c].rename(f"{column}={c}") for c in shares.columns]
    features = pd.concat(parts, axis=1).reindex(context[KEY])
    return features.fillna(0.0)


def dcr_share(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    columns = train.columns
    holdout, synthetic = (
        holdout.reindex(columns=columns, fill_value=0.0),
        synthetic.reindex(columns=columns, fill_value=0.0),
    )
    mean, std = train.mean(), train.std().replace(0, 1)

    def scaled(frame: pd.DataFrame) -> np.ndarray:
        return ((frame - mean) / std).to_numpy()

    to_train = NearestNeighbors(n_neighbors=1).fit(scaled(train)).kneighbors(scaled(synthetic))[0]
    to_holdout = (
        NearestNeighbors(n_neighbors=1).fit(scaled(holdout)).kneighbors(scaled(synthetic))[0]
    )
    closer = (to_train < to_holdout).mean() + 0.5 * (to_train == to_holdout).mean()
    return float(closer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=0, help="patients used (0: all)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--context-epochs", type=int, default=None, help="context model epochs (default: its own)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="3,000 patients, 15 epochs")
    args = parser.parse_args()
    if args.quick:
        args.entities, args.epochs = args.entities or 3000, 15

    patients = pd.read_csv(DATA / "nafld1.csv.gz")
    labs = pd.read_csv(DATA / "nafld2.csv.gz")
    rng = np.random.default_rng(args.seed)
    if args.entities:
        patients = patients.iloc[rng.permutation(len(patients))[: args.entities]]
    patients = patients.reset_index(drop=True)
    labs = labs[labs[KEY].isin(patients[KEY])].sort_values([KEY, INDEX], kind="stable")
    in_train = rng.random(len(patients)) < 0.5
    train_ctx, hold_ctx = patients[in_train], patients[~in_train]
    train = labs[labs[KEY].isin(train_ctx[KEY])]
    hold = labs[labs[KEY].isin(hold_ctx[KEY])]
    print(
        f"NAFLD: {len(train_ctx)} training / {len(hold_ctx)} holdout patients, "
        f"{len(train)} / {len(hold)} lab tests"
    )

    model = synthkit.SequenceSynthesizer(
        "ar",
        epochs=args.epochs,
        random_state=args.seed,
        verbose=False,
        context_params=None if args.context_epochs is None else {"epochs": args.context_epochs},
    )
    start = time.perf_counter()
    model.fit(synthkit.SequenceDataset(train, KEY, INDEX), context=train_ctx)
    fit_seconds = time.perf_counter() - start
    synthetic = model.sample(n_entities=len(hold_ctx), random_state=args.seed + 1)
    # Throughput on a batch large enough that per-position overhead is shared.
    start = time.perf_counter()
    model.sample(n_entities=5_000, random_state=args.seed + 2)
    per_second = 5_000 / (time.perf_counter() - start)
    syn, syn_ctx = synthetic.data, synthetic.context

    print(f"fit seconds: {fit_seconds:.1f}   sampling: {per_second:,.0f} entities/s")
    rows = {}
    for name, (events, context) in {
        "synthetic": (syn, syn_ctx),
        "holdout": (hold, hold_ctx),
    }.items():
        row = {
            "length_similarity": 1
            - ks_2samp(lengths(train, train_ctx), lengths(events, context)).statistic,
            "gap_similarity": 1 - ks_2samp(gaps(train), gaps(events)).statistic,
        }
        for column in train.columns.drop([KEY, INDEX]):
            row[f"shape[{column}]"] = shape_similarity(train[column], events[column])
        # The holdout is the reference of the DCR share itself, so it has no figure.
        row["dcr_share"] = (
            dcr_share(
                entity_features(train, train_ctx),
                entity_features(hold, hold_ctx),
                entity_features(events, context),
            )
            if name == "synthetic"
            else np.nan
        )
        rows[name] = row
    table = pd.DataFrame(rows)
    print(table.round(3).to_string())
    print(
        "mean events per patient: train "
        f"{lengths(train, train_ctx).mean():.1f}, synthetic {lengths(syn, syn_ctx).mean():.1f}; "
        f"patients without tests: train {(lengths(train, train_ctx) == 0).mean():.3f}, "
        f"synthetic {(lengths(syn, syn_ctx) == 0).mean():.3f}"
    )
    # synthkit.evaluate on the same entities (privacy unit: one patient with all tests);
    # the holdout column scores fidelity only, as it cannot be its own privacy reference.
    train_seqs = synthkit.SequenceDataset(train, KEY, INDEX)
    hold_seqs = synthkit.SequenceDataset(hold, KEY, INDEX)
    reports = {
        "synthetic": synthkit.evaluate(
            train_seqs,
            synthetic,
            holdout=hold_seqs,
            context={"real": train_ctx, "synthetic": syn_ctx, "holdout": hold_ctx},
            random_state=args.seed,
        ),
        "holdout": synthkit.evaluate(
            train_seqs,
            hold_seqs,
            context={"real": train_ctx, "synthetic": hold_ctx},
            random_state=args.seed,
        ),
    }
    print("synthkit.evaluate (unit: entity):")
    print(pd.DataFrame({n: r.to_dict() for n, r in reports.items()}).round(3).to_string())


if __name__ == "__main__":
    main()
