"""What a release fits, samples and evaluates, for each shape of data.

A table is released row by row; sequences are released by entity (one patient
with all their events is one unit of privacy). Each shape yields a
:class:`ReleaseSubject`: the fitted model, the synthetic files to write (file stem
to frame), the real frames whose identifiers must not appear in them, and the
evaluation report the gates read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from synthkit.errors import ParameterError
from synthkit.metadata import Metadata
from synthkit.schema.records import RecordDataset
from synthkit.schema.sequences import SequenceDataset

__all__ = [
    "ReleaseSubject",
    "never_learned",
    "release_records",
    "release_sequences",
    "release_table",
]

# File stems a release writes besides the data; a table of these names would collide.
_RESERVED_STEMS = frozenset({"report", "model_card", "MODEL_CARD", "model"})


@dataclass
class ReleaseSubject:
    """One fitted release candidate, before any gate is checked.

    Attributes:
        fitted: The fitted model.
        files: File stem to synthetic frame (each written as Parquet and CSV).
        real: File stem to the real frame of the same columns (scanned for identifiers).
        metadata: File stem to the column kinds of that frame.
        report: The evaluation report the gates read.
        unit: The unit of privacy: ``"row"`` or ``"entity"``.
        data: The data's shape and sizes, for the model card.
    """

    fitted: Any
    files: dict[str, pd.DataFrame]
    real: dict[str, pd.DataFrame]
    metadata: dict[str, Metadata]
    report: Any
    unit: str
    data: dict[str, Any] = field(default_factory=dict)


def never_learned(metadata: Metadata) -> list[str]:
    """Columns regenerated rather than learned (kinds ``id`` and ``pii``)."""
    return [c for c in metadata.columns_of_kind("id", "pii") if c in metadata.columns]


def release_table(
    real: pd.DataFrame,
    holdout: Any,
    model: str,
    params: Mapping[str, Any],
    n: int | None,
    metadata: Metadata | None,
    target: str | None,
    seed: int,
    save_model: bool,
) -> ReleaseSubject:
    """Fit a table model, sample, redraw clashing identifiers and evaluate by row."""
    import synthkit

    if isinstance(holdout, SequenceDataset):
        raise ParameterError(
            "real is a table but holdout is a SequenceDataset; pass a holdout of the same shape."
        )
    fitted = synthkit.Synthesizer(model, **params).fit(real, metadata)
    metadata = fitted.metadata_
    synthetic = fitted.sample(len(real) if n is None else n, random_state=seed)
    synthetic = redraw_real_identifiers(synthetic, real, metadata, seed)
    report = synthkit.evaluate(
        real,
        synthetic,
        holdout=holdout,
        target=target,
        metadata=metadata,
        random_state=seed,
        model=fitted if save_model else None,
    )
    kinds = {name: entry["kind"] for name, entry in metadata.columns.items()}
    data = {
        "shape": "table",
        "real_rows": len(real),
        "synthetic_rows": len(synthetic),
        "columns": kinds,
        "never_learned": never_learned(metadata),
    }
    return ReleaseSubject(
        fitted,
        {"synthetic": synthetic},
        {"synthetic": real},
        {"synthetic": metadata},
        report,
        "row",
        data,
    )


def release_sequences(
    real: SequenceDataset,
    holdout: Any,
    model: str,
    params: Mapping[str, Any],
    n: int | None,
    target: str | None,
    context: pd.DataFrame | None,
    seed: int,
    save_model: bool,
) -> ReleaseSubject:
    """Fit a sequence model, sample entities, redraw clashing identifiers, evaluate by entity."""
    import synthkit

    if not isinstance(holdout, SequenceDataset):
        raise ParameterError(
            "real is a SequenceDataset, so holdout must be one too: other entities with "
            "their events (split by entity, not by row)."
        )
    if save_model:
        raise ParameterError(
            "save_model=True needs the model-level membership attack, which reads a "
            "model's likelihood; sequence models have none, so their files cannot be "
            "released. Release the data alone."
        )
    key = real.sequence_key
    real_context, holdout_context = _contexts(real, holdout, context)
    fitted = synthkit.SequenceSynthesizer(model, **params).fit(real, context=real_context)
    n_entities = n
    if n_entities is None:
        n_entities = len(real_context) if real_context is not None else real.n_entities
    synthetic = fitted.sample(n_entities, random_state=seed)
    event_metadata = fitted.metadata_
    events = redraw_real_identifiers(synthetic.data, real.data, event_metadata, seed, key)
    files = {"events": events}
    reals = {"events": real.data}
    metadata = {"events": event_metadata}
    synthetic_context = synthetic.context
    if synthetic_context is not None and real_context is not None:
        context_metadata = _context_metadata(fitted, real_context)
        synthetic_context = redraw_real_identifiers(
            synthetic_context, real_context, context_metadata, seed + 1, key
        )
        files["context"] = synthetic_context
        reals["context"] = real_context
        metadata["context"] = context_metadata
    synthetic_sequences = SequenceDataset(events, key, real.sequence_index, metadata=event_metadata)
    contexts = None
    if real_context is not None:
        contexts = {
            "real": real_context,
            "synthetic": synthetic_context,
            "holdout": holdout_context,
        }
    report = synthkit.evaluate(
        real,
        synthetic_sequences,
        holdout=holdout,
        target=target,
        context=contexts,
        random_state=seed,
    )
    data = {
        "shape": "sequences",
        "sequence_key": key,
        "sequence_index": real.sequence_index,
        "real_entities": len(real_context) if real_context is not None else real.n_entities,
        "real_rows": len(real.data),
        "synthetic_entities": int(n_entities),
        "synthetic_rows": len(events),
        "columns": {name: entry["kind"] for name, entry in event_metadata.columns.items()},
        "never_learned": sorted({c for m in metadata.values() for c in never_learned(m)}),
    }
    return ReleaseSubject(fitted, files, reals, metadata, report, "entity", data)


def release_records(
    real: RecordDataset,
    holdout: Any,
    model: str,
    params: Mapping[str, Any],
    n: float | None,
    target: str | None,
    seed: int,
    save_model: bool,
    keep: list[str],
) -> ReleaseSubject:
    """Fit a record model, sample a database, redraw clashing identifiers, evaluate by root entity.

    Tables kept as they are (``keep``, public reference tables) are released unchanged
    and not scanned; key columns are never redrawn (primary keys are new by
    construction and foreign keys point at released rows).
    """
    import synthkit

    if not isinstance(holdout, RecordDataset):
        raise ParameterError(
            "real is a RecordDataset, so holdout must be one too: other root entities with "
            "everything hanging off them."
        )
    if save_model:
        raise ParameterError(
            "save_model=True needs the model-level membership attack, which reads a "
            "model's likelihood; record models have none. Release the data alone."
        )
    if target is not None:
        raise ParameterError("target= applies to tables and sequences, not to databases.")
    reserved = sorted(set(real.tables) & _RESERVED_STEMS)
    if reserved:
        raise ParameterError(
            f"Table name(s) {reserved} collide with the release's own files; rename them."
        )
    fitted = synthkit.RecordSynthesizer(model, **params).fit(real, keep=keep)
    synthetic = fitted.sample(scale=1.0 if n is None else float(n), random_state=seed)
    keys = _key_columns(real)
    tables, reals, metadata = {}, {}, {}
    for offset, (name, frame) in enumerate(synthetic.tables.items()):
        table_metadata = real.metadata[name]
        if name in keep:
            tables[name] = frame
            continue
        clear = redraw_real_identifiers(
            frame, real.tables[name], table_metadata, seed + offset, keep=keys[name]
        )
        tables[name] = clear
        reals[name] = real.tables[name].drop(columns=list(keys[name]))
        metadata[name] = table_metadata
    synthetic = synthetic.with_tables(tables)
    report = synthkit.evaluate(real, synthetic, holdout=holdout, random_state=seed)
    data = {
        "shape": "records",
        "tables": {
            name: {"real_rows": len(real.tables[name]), "synthetic_rows": len(frame)}
            for name, frame in tables.items()
        },
        "relationships": [link.to_dict() for link in real.relationships],
        "kept": list(keep),
        "real_rows": sum(len(frame) for frame in real.tables.values()),
        "synthetic_rows": sum(len(frame) for frame in tables.values()),
        "never_learned": sorted(
            {f"{t}.{c}" for t, m in metadata.items() for c in never_learned(m)}
        ),
    }
    return ReleaseSubject(fitted, tables, reals, metadata, report, "root entity", data)


def _key_columns(dataset: RecordDataset) -> dict[str, set[str]]:
    """Each table's primary and foreign key columns."""
    keys: dict[str, set[str]] = {name: set() for name in dataset.tables}
    for name, key in dataset.primary_keys.items():
        keys[name].add(key)
    for link in dataset.relationships:
        keys[link.child].add(link.child_key)
    return keys


def _contexts(
    real: SequenceDataset,
    holdout: SequenceDataset,
    context: pd.DataFrame | Mapping[str, pd.DataFrame] | None,
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The real and holdout entities' context rows.

    The datasets' own ``.context`` when they carry one; a ``{"real": ...,
    "holdout": ...}`` dict as given (the way to keep holdout entities without
    events in the holdout); otherwise one table split by the holdout's keys (its
    rows of other keys are the real entities, including those without events), as
    :func:`synthkit.evaluate` splits it.
    """
    own = getattr(real, "context", None), getattr(holdout, "context", None)
    if context is None or all(side is not None for side in own):
        return own
    if isinstance(context, Mapping):
        unknown = sorted(set(context) - {"real", "holdout"})
        if unknown or "real" not in context or "holdout" not in context:
            raise ParameterError(
                f"context as a dict needs the keys 'real' and 'holdout' only; got "
                f"{sorted(context)}."
            )
        return context["real"], context["holdout"]
    key = real.sequence_key
    if key not in context.columns:
        raise ParameterError(
            f"context has no {key!r} column; it needs the sequence key to tell the "
            "real entities' rows from the holdout's."
        )
    held = context[key].isin(pd.unique(holdout.data[key]))
    real_rows = context[~held].reset_index(drop=True)
    missing = pd.Index(pd.unique(real.data[key])).difference(pd.Index(real_rows[key]))
    if len(missing):
        raise ParameterError(
            f"context lacks {len(missing)} real entit(y/ies), for example "
            f"{key}={missing[0]!r}; give one context row for every entity."
        )
    return real_rows, context[held].reset_index(drop=True)


def _context_metadata(fitted: Any, real_context: pd.DataFrame) -> Metadata:
    model = getattr(fitted, "context_model_", None)
    if model is not None and getattr(model, "metadata_", None) is not None:
        return model.metadata_
    return Metadata.detect(real_context)


def redraw_real_identifiers(
    synthetic: pd.DataFrame,
    real: pd.DataFrame,
    metadata: Metadata,
    seed: int,
    keep: str | set[str] | None = None,
) -> pd.DataFrame:
    """Redraw regenerated values that happen to equal a real value of their column.

    Name columns built together from filtered parts cannot collide; emails, phones,
    codes and other standalone values may by chance, and are redrawn clear of the
    real values. Each clashing value is replaced by one new value wherever it
    occurs, so a value shared by an entity's events stays shared.

    Args:
        synthetic: The synthetic frame.
        real: The real frame of the same columns.
        metadata: The columns' kinds.
        seed: Seed of the new values.
        keep: Columns left as they are (a sequence key or table keys, new by
            construction).

    Returns:
        A copy of ``synthetic`` without any real value in its identifier columns.

    Example:
        >>> import pandas as pd
        >>> meta = Metadata({"code": {"kind": "id"}, "x": {"kind": "numerical"}})
        >>> real = pd.DataFrame({"code": ["AB12", "CD34"], "x": [1.0, 2.0]})
        >>> fake = pd.DataFrame({"code": ["AB12", "EF56"], "x": [1.5, 2.5]})
        >>> out = redraw_real_identifiers(fake, real, meta, seed=0)
        >>> bool(out["code"].isin(real["code"]).any()), out["code"].iloc[1]
        (False, 'EF56')
    """
    from synthkit.pii import regenerate

    out = synthetic.copy()
    kept = {keep} if isinstance(keep, str) else set(keep or ())
    for offset, column in enumerate(never_learned(metadata)):
        if column not in out.columns or column not in real.columns or column in kept:
            continue
        entry = metadata.column(column)
        if entry.get("pii_type") in ("name", "first_name", "last_name", "middle_name"):
            continue  # composed from pools that hold no real word
        real_values = real[column].dropna()
        clash = out[column].isin(set(real_values)).to_numpy() & out[column].notna().to_numpy()
        if clash.any():
            clashing = pd.unique(out[column][clash])
            taken = pd.concat([real_values, out[column][~clash].dropna()])
            fresh = regenerate(entry, len(clashing), seed + 7919 + offset, exclude=taken)
            mapping = dict(zip(clashing, fresh, strict=True))
            values = out[column].astype(object).to_numpy()
            values[clash] = [mapping[value] for value in values[clash]]
            out[column] = pd.Series(values, index=out.index).astype(synthetic[column].dtype)
    return out
