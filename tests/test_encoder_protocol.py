"""Every encoder meets one protocol: round trips, layout, JSON state, groups, shared pooling."""

from __future__ import annotations

import functools
import gzip
import json

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthkit.metadata import Metadata
from synthkit.processing import BaseEncoder, CopulaEncoder, Discretizer, Encoder, TableEncoder
from synthkit.processing.columns import CategoricalTransform, NumericTransform

from .conftest import DATA

assert_frame_equal = functools.partial(pd.testing.assert_frame_equal, check_exact=True)

ENCODERS = [TableEncoder, Discretizer, CopulaEncoder]


def realistic_frame(rows: int | None = None) -> pd.DataFrame:
    """The CGD trial's infections with gaps, a datetime with NaT and a constant column.

    It has an id-like key, categories, booleans, integers, decimals, date strings,
    a datetime column and a detected rule (``tstop > tstart``).
    """
    frame = pd.read_csv(DATA / "cgd.csv.gz")
    if rows is not None:
        frame = frame.head(rows)
    rng = np.random.default_rng(0)
    frame["visit"] = pd.to_datetime(frame["random"]) + pd.to_timedelta(frame["tstart"], unit="D")
    frame.loc[rng.random(len(frame)) < 0.1, "visit"] = pd.NaT
    for column in ("height", "center", "weight"):
        frame.loc[rng.random(len(frame)) < 0.08, column] = None
    frame["site"] = "A"
    return frame


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return realistic_frame()


@pytest.fixture(scope="module")
def metadata(frame: pd.DataFrame) -> Metadata:
    return Metadata.detect(frame).update_column("id", kind="id")


def noisy(encoder: Encoder, encoded: torch.Tensor) -> torch.Tensor:
    """Model-like output in the encoder's space: perturbed scores or random tokens."""
    generator = torch.Generator().manual_seed(1)
    if encoded.is_floating_point():
        return encoded + 0.3 * torch.randn(encoded.shape, generator=generator, dtype=encoded.dtype)
    high = torch.as_tensor(encoder.vocab_sizes)
    return (torch.rand(encoded.shape, generator=generator) * high).long()


@pytest.mark.parametrize("cls", ENCODERS, ids=lambda cls: cls.__name__)
def test_round_trip_of_a_realistic_frame(
    cls: type[BaseEncoder], frame: pd.DataFrame, metadata: Metadata
) -> None:
    encoder = cls().fit(frame, metadata)
    assert isinstance(encoder, Encoder)
    decoded = encoder.decode(encoder.encode(frame, random_state=0), random_state=0)
    assert list(decoded.columns) == list(frame.columns)
    assert decoded.dtypes.equals(frame.dtypes)
    assert decoded["id"].is_unique  # never learned: regenerated
    assert decoded["visit"].isna().equals(frame["visit"].isna())
    assert decoded["visit"].dt.normalize().equals(decoded["visit"])  # dates stay dates
    assert (decoded["tstop"] > decoded["tstart"]).all()  # the detected rule holds
    for column, transform in encoder.transforms_.items():
        if isinstance(transform, NumericTransform):
            assert decoded[column].isna().equals(frame[column].isna()), column
            assert decoded[column].min() >= frame[column].min(), column
            assert decoded[column].max() <= frame[column].max(), column
        elif column != "tstop":  # tstop is decoded from its learned gap
            assert_frame_equal(decoded[[column]], frame[[column]])
    if cls is TableEncoder:  # mode-specific normalization keeps every value
        assert_frame_equal(decoded.drop(columns="id"), frame.drop(columns="id"))


@pytest.mark.parametrize("cls", ENCODERS, ids=lambda cls: cls.__name__)
def test_layout_covers_the_encoded_tensor(
    cls: type[BaseEncoder], frame: pd.DataFrame, metadata: Metadata
) -> None:
    encoder = cls().fit(frame, metadata)
    encoded = encoder.encode(frame, random_state=0)
    assert encoded.shape == (len(frame), encoder.output_dim_)
    assert sum(span.width for span in encoder.spans_) == encoder.output_dim_
    assert [span.start for span in encoder.spans_] == list(
        np.cumsum([0] + [span.width for span in encoder.spans_[:-1]])
    )
    assert {span.column for span in encoder.spans_} == set(encoder.learned_columns)
    assert encoder.span_of("sex").column == "sex"


@pytest.mark.parametrize("cls", ENCODERS, ids=lambda cls: cls.__name__)
def test_state_through_json_encodes_and_decodes_identically(
    cls: type[BaseEncoder], frame: pd.DataFrame, metadata: Metadata
) -> None:
    encoder = cls(rare_category_threshold=5).fit(frame, metadata)
    rebuilt = type(encoder).from_state(json.loads(json.dumps(encoder.to_state())))
    assert type(rebuilt) is cls
    assert rebuilt.spans_ == encoder.spans_
    encoded = encoder.encode(frame, random_state=3)
    assert torch.equal(rebuilt.encode(frame, random_state=3), encoded)
    output = noisy(encoder, encoded)
    assert_frame_equal(
        rebuilt.decode(output, random_state=5), encoder.decode(output, random_state=5)
    )


@pytest.mark.parametrize("cls", ENCODERS, ids=lambda cls: cls.__name__)
def test_states_written_before_the_protocol_still_load(cls: type[BaseEncoder]) -> None:
    """States saved by the encoders before they shared one base decode as a fresh fit does."""
    with gzip.open(DATA / "encoder_states_v1.json.gz", "rt") as file:
        state = json.load(file)[cls.__name__]
    frame = realistic_frame(80)
    old = cls.from_state(state)
    new = cls(rare_category_threshold=3).fit(frame, Metadata.from_dict(state["metadata"]))
    assert old.spans_ == new.spans_
    encoded = new.encode(frame, random_state=2)
    assert torch.equal(old.encode(frame, random_state=2), encoded)
    output = noisy(new, encoded)
    assert_frame_equal(old.decode(output, random_state=4), new.decode(output, random_state=4))


@pytest.mark.parametrize("cls", ENCODERS, ids=lambda cls: cls.__name__)
def test_rows_of_one_entity_share_regenerated_names(cls: type[BaseEncoder]) -> None:
    real = pd.DataFrame({"first_name": ["Ann", "Bob", "Cy", "Di"] * 10, "x": [1, 2, 3, 4] * 10})
    metadata = Metadata(
        {"first_name": {"kind": "pii", "pii_type": "first_name"}, "x": {"kind": "numerical"}}
    )
    encoder = cls().fit(real, metadata)
    groups = np.repeat(np.arange(8), 5)
    decoded = encoder.decode(encoder.encode(real, random_state=0), random_state=0, groups=groups)
    assert (decoded.groupby(groups)["first_name"].nunique() == 1).all()
    assert not decoded["first_name"].isin(real["first_name"]).any()


def test_every_encoder_pools_the_same_rare_categories(frame: pd.DataFrame) -> None:
    fitted = [cls(rare_category_threshold=20).fit(frame) for cls in ENCODERS]
    rare = frame["center"].value_counts().pipe(lambda counts: counts[counts < 20]).index
    assert len(rare) > 0
    for encoder in fitted:
        transform = encoder.transforms_["center"]
        assert isinstance(transform, CategoricalTransform) and transform.has_pool
        assert transform.state() == fitted[0].transforms_["center"].state()
        state = json.dumps(encoder.to_state())
        assert not any(json.dumps(value) in state for value in rare)
        decoded = encoder.decode(noisy(encoder, encoder.encode(frame)), random_state=0)
        assert not decoded["center"].isin(rare).any()


@pytest.mark.parametrize("cls", ENCODERS, ids=lambda cls: cls.__name__)
def test_a_frame_without_a_learned_column_is_refused(
    cls: type[BaseEncoder], frame: pd.DataFrame
) -> None:
    from synthkit.errors import DataError

    encoder = cls().fit(frame)
    with pytest.raises(DataError, match="'age'"):
        encoder.encode(frame.drop(columns="age"))


# ------------------------------------------------------------------ hypothesis
@st.composite
def _small_frames(draw: st.DrawFn) -> tuple[pd.DataFrame, Metadata]:
    """Frames whose columns take a few values each, with gaps (every encoder keeps them)."""
    rows = draw(st.integers(8, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    columns: dict[str, object] = {}
    kinds: dict[str, dict[str, str]] = {}
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["integer", "decimal", "category", "boolean", "date"]))
        name = f"{kind}{i}"
        pool_size = draw(st.integers(1, 6))
        if kind == "integer":
            series = pd.Series(rng.integers(-50, 50, pool_size)[rng.integers(0, pool_size, rows)])
            kinds[name] = {"kind": "numerical"}
        elif kind == "decimal":
            pool = np.round(rng.normal(0, 100, pool_size), 2)
            series = pd.Series(pool[rng.integers(0, pool_size, rows)])
            kinds[name] = {"kind": "numerical"}
        elif kind == "category":
            series = pd.Series(np.array(list("abcdef"), dtype=object)[rng.integers(0, 6, rows)])
            kinds[name] = {"kind": "categorical"}
        elif kind == "boolean":
            series = pd.Series(rng.random(rows) < 0.5)
            kinds[name] = {"kind": "boolean"}
        else:
            days = pd.to_timedelta(rng.integers(0, 400, pool_size), unit="D")
            pool = pd.Timestamp("2021-03-01") + days
            series = pd.Series(pool[rng.integers(0, pool_size, rows)])
            kinds[name] = {"kind": "datetime"}
        if kind != "boolean" and draw(st.booleans()):
            kept = rng.random(rows) > 0.2
            kept[0] = True  # an all-missing column is refused at fit
            series = series.where(kept)
        columns[name] = series
    return pd.DataFrame(columns), Metadata(kinds)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_small_frames(), index=st.integers(0, len(ENCODERS) - 1))
def test_every_encoder_round_trips_frames_of_few_values(
    case: tuple[pd.DataFrame, Metadata], index: int
) -> None:
    frame, metadata = case
    encoder = ENCODERS[index]().fit(frame, metadata)
    encoded = encoder.encode(frame, random_state=0)
    assert encoded.shape == (len(frame), encoder.output_dim_)
    rebuilt = type(encoder).from_state(json.loads(json.dumps(encoder.to_state())))
    assert_frame_equal(rebuilt.decode(encoded, random_state=0), frame)


def test_the_copula_keeps_a_columns_lowest_value_next_to_its_missing_values() -> None:
    # The lowest value's level is the missing share itself: the float32 normal
    # scores must not round it into the missing values' levels.
    frame = pd.DataFrame({"x": [42.0, 6.0, 6.0, None, 42.0, -46.0, None, None]})
    encoder = CopulaEncoder().fit(frame, Metadata({"x": {"kind": "numerical"}}))
    for seed in range(20):
        decoded = encoder.decode(encoder.encode(frame, random_state=seed), random_state=seed)
        assert_frame_equal(decoded, frame)
