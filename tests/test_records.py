"""RecordSynthesizer: related tables with valid keys, learned cardinality, kept tables, files."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames
from scipy.stats import ks_2samp

import synthkit
from synthkit.errors import ConditionError, ParameterError
from synthkit.generators.autoregressive import ARSynthesizer
from synthkit.generators.records._frames import frame_from_text, frame_to_text
from synthkit.generators.records.base import (
    _SEQUENCE_WINDOW,
    _child_counts,
    _context,
    _dataset_from_state,
    _drawn_lengths,
    _in_parent_order,
    _matching_columns,
    _sequence_schedule,
    _sequence_tokens,
    _table_schedule,
    _table_tokens,
)
from synthkit.processing.discretizer import Discretizer
from synthkit.schema.records import RecordError

torch.set_num_threads(1)

DATA = Path(__file__).parent / "data"
FLIGHTS = DATA / "nycflights13_sample"
FAST = {"epochs": 3, "verbose": False, "sequence_params": {"state_dim": 32, "hidden_dim": 32}}


def _nafld(n_patients: int | None = None) -> synthkit.RecordDataset:
    patients = pd.read_csv(DATA / "nafld1_sample.csv.gz")
    labs = pd.read_csv(DATA / "nafld2_sample.csv.gz")
    events = pd.read_csv(DATA / "nafld3_sample.csv.gz")
    if n_patients is not None:
        patients = patients.head(n_patients)
        labs = labs[labs["id"].isin(patients["id"])]
        events = events[events["id"].isin(patients["id"])]
    return synthkit.RecordDataset(
        {"patients": patients, "labs": labs, "events": events},
        [
            synthkit.Relationship("patients", "labs", "id", "id"),
            synthkit.Relationship("patients", "events", "id", "id"),
        ],
        primary_keys={"patients": "id"},
    )


def _flights() -> synthkit.RecordDataset:
    """Planes, airlines and airports with the flights pointing at them (origin and dest).

    Flights whose plane or destination the sample lacks (real orphans) are left out.
    """
    tables = {
        name: pd.read_csv(FLIGHTS / f"{name}.csv.gz")
        for name in ("planes", "airlines", "airports", "flights")
    }
    flights = tables["flights"]
    flights = flights[
        flights["tailnum"].isin(tables["planes"]["tailnum"])
        & flights["dest"].isin(tables["airports"]["faa"])
    ]
    columns = ["tailnum", "carrier", "origin", "dest", "month", "dep_delay", "distance"]
    tables["flights"] = flights[columns].reset_index(drop=True)
    tables["planes"] = tables["planes"][["tailnum", "year", "seats", "engine"]]
    tables["airports"] = tables["airports"][["faa", "lat", "lon", "alt"]]
    return synthkit.RecordDataset(
        tables,
        [
            synthkit.Relationship("planes", "flights", "tailnum", "tailnum"),
            synthkit.Relationship("airlines", "flights", "carrier", "carrier"),
            synthkit.Relationship("airports", "flights", "faa", "origin"),
            synthkit.Relationship("airports", "flights", "faa", "dest"),
        ],
        root="planes",
    )


def _assert_integrity(dataset: synthkit.RecordDataset) -> None:
    for link in dataset.relationships:
        keys = dataset.tables[link.child][link.child_key]
        parents = dataset.tables[link.parent][link.parent_key]
        assert keys.notna().all(), link
        assert keys.isin(parents).all(), link


def _children(dataset: synthkit.RecordDataset, link: synthkit.Relationship) -> np.ndarray:
    """Children per parent row (zeros included)."""
    counts = dataset.tables[link.child][link.child_key].value_counts()
    return counts.reindex(dataset.tables[link.parent][link.parent_key], fill_value=0).to_numpy()


@pytest.fixture(scope="module")
def nafld() -> synthkit.RecordDataset:
    return _nafld(120)


@pytest.fixture(scope="module")
def nafld_model(nafld: synthkit.RecordDataset) -> synthkit.RecordSynthesizer:
    model = synthkit.RecordSynthesizer("ar", random_state=0, **FAST)
    return model.fit(nafld, sequence_index={"labs": "days", "events": "days"})


@pytest.fixture(scope="module")
def flights() -> synthkit.RecordDataset:
    return _flights()


# ------------------------------------------------------------------ structure
def test_sample_keeps_tables_columns_dtypes_and_integrity(nafld, nafld_model):
    synthetic = nafld_model.sample(random_state=1)
    assert list(synthetic.tables) == list(nafld.tables)
    for name, real in nafld.tables.items():
        frame = synthetic.tables[name]
        assert list(frame.columns) == list(real.columns)
        assert frame.dtypes.to_dict() == real.dtypes.to_dict()
    assert synthetic.relationships == nafld.relationships
    assert synthetic.root == nafld.root
    assert len(synthetic.tables["patients"]) == len(nafld.tables["patients"])
    _assert_integrity(synthetic)
    # Children are ordered by their index within each parent.
    labs = synthetic.tables["labs"]
    assert labs.groupby("id", sort=False)["days"].apply(lambda d: d.is_monotonic_increasing).all()


def test_new_primary_keys_are_unique_and_never_real(nafld, nafld_model):
    synthetic = nafld_model.sample(scale=2.0, random_state=2)
    keys = synthetic.tables["patients"]["id"]
    assert len(keys) == 2 * len(nafld.tables["patients"])
    assert keys.is_unique
    assert not keys.isin(nafld.tables["patients"]["id"]).any()


def test_conditions_on_the_root_are_exact(nafld_model):
    synthetic = nafld_model.sample(scale=0.5, conditions={"male": 1}, random_state=3)
    assert (synthetic.tables["patients"]["male"] == 1).all()
    by_table = nafld_model.sample(
        scale=0.5, conditions={"patients": {"age": (40, 60)}}, random_state=3
    )
    assert by_table.tables["patients"]["age"].between(40, 60).all()
    _assert_integrity(by_table)


def test_samples_are_reproducible_and_survive_save_and_load(nafld_model, tmp_path):
    first = nafld_model.sample(random_state=7)
    second = nafld_model.sample(random_state=7)
    other = nafld_model.sample(random_state=8)
    for name in first.tables:
        pd.testing.assert_frame_equal(first.tables[name], second.tables[name])
    assert not first.tables["labs"].equals(other.tables["labs"])
    path = nafld_model.save(tmp_path / "records.synthkit")
    loaded = synthkit.load_model(path)
    assert type(loaded) is type(nafld_model)
    again = loaded.sample(random_state=7)
    for name in first.tables:
        pd.testing.assert_frame_equal(first.tables[name], again.tables[name])


def test_fits_are_reproducible():
    small = _nafld(40)
    samples = [
        synthkit.RecordSynthesizer("ar", random_state=5, **{**FAST, "epochs": 1})
        .fit(small)
        .sample(random_state=0)
        for _ in range(2)
    ]
    for name in small.tables:
        pd.testing.assert_frame_equal(samples[0].tables[name], samples[1].tables[name])


def test_independent_tables_survive_fit_sample_and_model_files(tmp_path):
    small = _nafld(40)
    weather = pd.read_csv(FLIGHTS / "weather.csv.gz")[["origin", "temp", "humid"]]
    db = synthkit.RecordDataset(
        {"patients": small.tables["patients"], "labs": small.tables["labs"], "weather": weather},
        [small.relationships[0]],
        independent=["weather"],
    )
    model = synthkit.RecordSynthesizer("ar", random_state=0, **{**FAST, "epochs": 1})
    synthetic = model.fit(db).sample(random_state=0)
    assert synthetic.independent == ["weather"]
    assert synthetic.root == "patients"
    assert len(synthetic.tables["weather"]) == len(weather)
    _assert_integrity(synthetic)
    loaded = synthkit.load_model(model.save(tmp_path / "independent.synthkit"))
    again = loaded.sample(random_state=0)
    assert again.independent == ["weather"]
    for name in synthetic.tables:
        pd.testing.assert_frame_equal(synthetic.tables[name], again.tables[name])


def test_model_files_without_independent_tables_still_load(nafld_model):
    state = {k: v for k, v in nafld_model.layout_["dataset"].items() if k != "independent"}
    tables = {name: frame.head(0) for name, frame in nafld_model.sample(0.1).tables.items()}
    assert _dataset_from_state(state, tables).independent == []


# ------------------------------------------------------------------- schedule
def test_default_schedule_fits_each_table_by_its_size():
    small = _nafld(40)
    model = synthkit.RecordSynthesizer(
        "ar", verbose=False, random_state=0, sequence_params={"state_dim": 16, "hidden_dim": 16}
    )
    assert model.epochs is None
    model.fit(small)
    for name in ("labs", "events"):
        fitted = model.models_[name]
        expected = _sequence_schedule(len(small.tables[name]), 40)
        assert (fitted.epochs, fitted.batch_size) == (expected["epochs"], expected["batch_size"])
        assert fitted.learning_rate == expected["learning_rate"]
        assert fitted.n_bins == _sequence_tokens(40)["n_bins"]
        assert len(fitted.loss_history_) == fitted.epochs
        # Children recall nothing: it lifted the root entity's DCR share.
        assert fitted.recall is False and fitted.layout_["recall"] is None
        # Their counts always come from the root, so they read the events remaining.
        assert fitted.layout_["counted"] and fitted.network_.remaining is not None
    root = model.models_["patients"]
    assert root.batch_size == _table_schedule(40)["batch_size"] < 512
    assert (root.n_bins, root.max_points) == tuple(_table_tokens(40).values())
    _assert_integrity(model.sample(random_state=0))


def test_given_epochs_and_parameters_override_the_schedule():
    model = synthkit.RecordSynthesizer(
        "ar", epochs=2, sequence_params={"batch_size": 16}, table_params={"epochs": 3}
    )
    schedule = _sequence_schedule(30_000, 1_000)
    sequence = model._sequence(0, schedule)
    default = synthkit.SequenceSynthesizer("ar")
    assert (sequence.epochs, sequence.batch_size) == (2, 16)
    assert sequence.learning_rate == default.learning_rate
    table = model._table_model(0, _table_schedule(1_000))
    assert (table.epochs, table.batch_size) == (3, ARSynthesizer().batch_size)
    given = synthkit.RecordSynthesizer("ar", sequence_params={"epochs": 7})
    scheduled = given._sequence(0, schedule)
    assert (scheduled.epochs, scheduled.batch_size) == (7, schedule["batch_size"])
    # Child histories train in windows of _SEQUENCE_WINDOW positions unless given
    # otherwise; a private fit keeps the sequence model's own.
    assert scheduled.max_window == _SEQUENCE_WINDOW < default.max_window
    windowed = synthkit.RecordSynthesizer("ar", sequence_params={"max_window": 48})
    assert windowed._sequence(0, schedule).max_window == 48
    private = model._sequence(0, schedule, {"epsilon": 1.0, "delta": 1e-5})
    assert private.max_window == default.max_window


def test_schedule_gives_large_tables_fewer_passes_and_short_histories_larger_batches():
    labs, events = _sequence_schedule(30_000, 1_000), _sequence_schedule(2_000, 1_000)
    assert labs["epochs"] < events["epochs"]
    assert labs["batch_size"] < events["batch_size"]
    for n_events, n_entities in [(0, 1), (10, 10), (10**7, 10**5), (10**5, 10)]:
        schedule = _sequence_schedule(n_events, n_entities)
        assert 1 <= schedule["epochs"] <= 4
        assert 32 <= schedule["batch_size"] <= 256
    assert [_table_schedule(n)["batch_size"] for n in (10, 1_000, 10**6)] == [10, 100, 512]
    # Rows shared about evenly over a small table's steps: the last batch is no sliver.
    for n_rows in (301, 2_401, 5_121):
        batch = _table_schedule(n_rows)["batch_size"]
        steps = -(-n_rows // batch)
        assert n_rows - (steps - 1) * batch >= 0.5 * batch


def test_quantile_bins_grow_with_the_table_and_given_parameters_win():
    assert [_table_tokens(n)["n_bins"] for n in (10, 1_200, 3_000, 10**6)] == [8, 8, 20, 64]
    assert [_sequence_tokens(n)["n_bins"] for n in (10, 1_200, 2_500, 10**6)] == [12, 12, 25, 32]
    model = synthkit.RecordSynthesizer(
        "ar", epochs=2, table_params={"max_points": 50}, sequence_params={"n_bins": 20}
    )
    table = model._table_model(0, _table_schedule(1_200), tokens=_table_tokens(1_200))
    assert (table.n_bins, table.max_points) == (8, 50)
    sequence = model._sequence(0, _sequence_schedule(30_000, 1_200), tokens=_sequence_tokens(1_200))
    assert sequence.n_bins == 20


# ---------------------------------------------------------------- cardinality
@pytest.mark.slow
def test_children_per_parent_learned_with_childless_parents():
    real = _nafld()
    events = synthkit.RecordDataset(
        {"patients": real.tables["patients"], "events": real.tables["events"]},
        [synthkit.Relationship("patients", "events", "id", "id")],
    )
    model = synthkit.RecordSynthesizer(
        "ar",
        epochs=25,
        verbose=False,
        random_state=0,
        table_params={"batch_size": 64},
        sequence_params={"state_dim": 32, "hidden_dim": 32},
    )
    synthetic = model.fit(events, sequence_index={"events": "days"}).sample(random_state=0)
    link = events.relationships[0]
    real_counts, synthetic_counts = _children(events, link), _children(synthetic, link)
    assert ks_2samp(real_counts, synthetic_counts).statistic < 0.15
    real_zero, synthetic_zero = np.mean(real_counts == 0), np.mean(synthetic_counts == 0)
    assert real_zero > 0.1  # the real set has childless patients
    assert abs(synthetic_zero - real_zero) < 0.1


def test_children_per_parent_drawn_with_the_root_and_histories_brought_to_them(nafld_model):
    counts = nafld_model.layout_["tables"]["patients"]["counts"]
    assert counts == {"labs": "labs:count", "events": "events:count"}
    # The counts are columns of the root's model: a condition on them fixes each
    # patient's number of labs, which the labs' model draws exactly.
    synthetic = nafld_model.sample(conditions={"labs:count": 6}, random_state=0)
    _assert_integrity(synthetic)
    labs = synthetic.tables["labs"]["id"].value_counts()
    per_patient = labs.reindex(synthetic.tables["patients"]["id"], fill_value=0)
    assert (per_patient == 6).all()
    assert "labs:count" not in synthetic.tables["patients"].columns
    none = nafld_model.sample(conditions={"events:count": 0}, random_state=0)
    assert len(none.tables["events"]) == 0 and len(none.tables["labs"]) > 0


def test_histories_have_exactly_the_drawn_counts(nafld_model):
    model = nafld_model.models_["events"]
    plans = nafld_model.layout_["tables"]
    real = _nafld(120)
    context = _context(
        plans,
        plans["events"],
        real.tables,
        2,
        {"patients": _child_counts(real, "patients", plans["patients"]["counts"])},
    )
    wanted = np.arange(len(context)) % 4  # 0 to 3 events, whatever the patient
    context["patients.events:count"] = wanted
    lengths = _drawn_lengths("events", plans["events"], context, plans)
    assert lengths.tolist() == wanted.tolist()
    events = model.sample(context=context, lengths=lengths, random_state=0).data
    brought = _in_parent_order(events, "id", context.iloc[::-1])
    got = brought["id"].value_counts().reindex(context["id"], fill_value=0).to_numpy()
    assert (got == wanted).all()
    # Each history keeps its order, histories in the parents' order.
    assert brought.groupby("id")["days"].is_monotonic_increasing.all()
    present = context["id"][context["id"].isin(brought["id"])].tolist()
    assert brought["id"].drop_duplicates().tolist() == present[::-1]
    # A child table its root does not count (none here for labs' grandchildren) is left
    # to the sequence model: no lengths.
    assert _drawn_lengths("events", plans["events"], context, {"patients": {}}) is None


# ----------------------------------------------------------- several parents
def _flights_with_weather() -> synthkit.RecordDataset:
    """The bundled flights with their weather row (by origin and hour) as a kept table."""
    weather = pd.read_csv(FLIGHTS / "weather.csv.gz")
    weather.insert(0, "weather_id", np.arange(len(weather)))
    base = _flights()
    flown = pd.read_csv(FLIGHTS / "flights.csv.gz").merge(
        weather[["weather_id", "origin", "time_hour"]], on=["origin", "time_hour"]
    )
    flown = flown[flown["tailnum"].isin(base.tables["planes"]["tailnum"])]
    flown = flown[flown["dest"].isin(base.tables["airports"]["faa"])]
    columns = ["tailnum", "carrier", "origin", "dest", "weather_id", "month", "day", "hour"]
    tables = {**base.tables, "weather": weather.drop(columns="time_hour")}
    tables["flights"] = flown[[*columns, "dep_delay"]].reset_index(drop=True)
    links = [
        *base.relationships,
        synthkit.Relationship("weather", "flights", "weather_id", "weather_id"),
        synthkit.Relationship("airports", "weather", "faa", "origin"),
    ]
    return synthkit.RecordDataset(tables, links, root="planes")


def test_keys_named_by_shared_columns_take_the_matching_parent_row():
    real = _flights_with_weather()
    model = synthkit.RecordSynthesizer("ar", random_state=0, **{**FAST, "epochs": 2})
    model.fit(real, keep=["airlines", "airports", "weather"])
    links = {link["child_key"]: link for link in model.layout_["tables"]["flights"]["links"]}
    assert links["weather_id"]["mode"] == "matched"
    assert links["weather_id"]["columns"] == ["origin", "month", "day", "hour"]
    assert links["dest"]["mode"] == "learned"  # airports share no column with flights
    synthetic = model.sample(random_state=0)
    _assert_integrity(synthetic)
    flown = synthetic.tables["flights"].merge(
        synthetic.tables["weather"], on="weather_id", suffixes=("", "_weather")
    )
    assert len(flown) == len(synthetic.tables["flights"])
    # Every flight's weather is of its own airport and day (all of them exist here).
    for name in ("origin", "month", "day"):
        assert (flown[name] == flown[f"{name}_weather"]).all(), name
    assert (flown["hour"] == flown["hour_weather"]).mean() > 0.9


def test_matching_columns_need_agreement_on_the_real_rows():
    real = _flights_with_weather()
    tables = dict(real.tables)
    shuffled = tables["flights"].copy()
    shuffled["weather_id"] = shuffled["weather_id"].sample(frac=1, random_state=0).to_numpy()
    tables["flights"] = shuffled
    link = real.relationships[4]
    assert _matching_columns(real, link) == ["origin", "month", "day", "hour"]
    # Shuffled keys point at rows of other airports and hours (every day is the 1st here).
    assert _matching_columns(real.with_tables(tables), link) == ["day"]


def test_two_foreign_keys_to_one_table_keep_integrity(flights, caplog):
    model = synthkit.RecordSynthesizer("ar", random_state=0, **{**FAST, "epochs": 1})
    with caplog.at_level(logging.INFO, logger="synthkit"):
        model.fit(flights)
    assert "owner 'planes'" in caplog.text  # the first relationship listed owns flights
    synthetic = model.sample(scale=0.5, random_state=0)
    _assert_integrity(synthetic)
    airports = synthetic.tables["airports"]
    assert not airports["faa"].isin(flights.tables["airports"]["faa"]).any()
    assert list(synthetic.tables["flights"].columns) == list(flights.tables["flights"].columns)
    # Keys into a synthesized table are drawn by popularities like the real ones.
    dest = flights.relationships[3]
    assert ks_2samp(_children(flights, dest), _children(synthetic, dest)).statistic < 0.25


def test_kept_tables_are_copied_and_keys_into_them_learned(flights):
    model = synthkit.RecordSynthesizer("ar", random_state=0, **{**FAST, "epochs": 1})
    model.fit(flights, keep=["airlines", "airports"])
    synthetic = model.sample(random_state=0)
    for name in ("airlines", "airports"):
        pd.testing.assert_frame_equal(synthetic.tables[name], flights.tables[name])
    _assert_integrity(synthetic)
    flown = synthetic.tables["flights"]
    assert flown["origin"].isin(flights.tables["flights"]["origin"]).all()
    assert flown["dest"].nunique() > 1


def test_keys_into_kept_tables_with_many_values_are_drawn_by_popularity(flights, caplog):
    model = synthkit.RecordSynthesizer(
        "ar", random_state=0, max_key_categories=20, **{**FAST, "epochs": 1}
    )
    with caplog.at_level(logging.INFO, logger="synthkit"):
        model.fit(flights, keep=["airlines", "airports"])
    assert "distinct keys in 'dest'" in caplog.text
    links = model.layout_["tables"]["flights"]["links"]
    modes = {link["child_key"]: link["mode"] for link in links}
    assert modes == {"carrier": "learned", "origin": "learned", "dest": "sampled"}
    synthetic = model.sample(scale=0.5, random_state=0)
    _assert_integrity(synthetic)


def test_owner_can_be_named(flights, caplog):
    model = synthkit.RecordSynthesizer("ar", random_state=0, **{**FAST, "epochs": 1})
    with caplog.at_level(logging.INFO, logger="synthkit"):
        model.fit(flights, owners={"flights": "airlines"}, keep=["airlines", "airports"])
    assert "owner 'airlines'" in caplog.text
    synthetic = model.sample(scale=0.3, random_state=0)
    _assert_integrity(synthetic)
    tails = synthetic.tables["flights"]["tailnum"]
    assert not tails.isin(flights.tables["planes"]["tailnum"]).any()


def test_one_to_one_child_keeps_its_parents_keys():
    patients = pd.read_csv(DATA / "nafld1_sample.csv.gz").head(60)
    # Half the patients have a measurements row keyed by the patient's own id.
    body = patients[["id", "weight", "height"]].iloc[::2].reset_index(drop=True)
    db = synthkit.RecordDataset(
        {"patients": patients[["id", "age", "male"]], "body": body},
        [synthkit.Relationship("patients", "body", "id", "id")],
        primary_keys={"patients": "id", "body": "id"},
    )
    model = synthkit.RecordSynthesizer("ar", random_state=0, **{**FAST, "epochs": 1})
    synthetic = model.fit(db).sample(random_state=0)
    _assert_integrity(synthetic)
    assert synthetic.tables["body"]["id"].is_unique


# ---------------------------------------------------------------- nesting
def test_three_level_nested_records_round_trip():
    patients = pd.read_csv(DATA / "nafld1_sample.csv.gz").head(40)[["id", "age", "male", "bmi"]]
    labs = pd.read_csv(DATA / "nafld2_sample.csv.gz")
    labs = labs[labs["id"].isin(patients["id"])]
    records = []
    for row in patients.itertuples(index=False):
        mine = labs[labs["id"] == row.id]
        visits = [
            {"days": int(day), "tests": group[["test", "value"]].to_dict("records")}
            for day, group in mine.groupby("days", sort=True)
        ]
        records.append({**row._asdict(), "visits": visits})
    nested = synthkit.RecordDataset.from_records(records, name="patients", primary_key="id")
    assert len(nested.tables) == 3
    model = synthkit.RecordSynthesizer("ar", random_state=0, **{**FAST, "epochs": 1})
    synthetic = model.fit(nested).sample(random_state=0)
    _assert_integrity(synthetic)
    out = synthetic.to_records()
    assert len(out) == len(records)
    assert synthetic.to_arrow().schema == nested.to_arrow().schema
    assert {key for record in out for key in record} == set(records[0])
    for link in nested.relationships:  # list positions renumbered 0, 1, ... per parent
        child = synthetic.tables[link.child]
        positions = child.groupby(link.child_key, sort=False).cumcount()
        assert (child[link.order] == positions).all()


# ----------------------------------------------------------------- bad input
def test_bad_input_raises_record_errors(nafld):
    model = synthkit.RecordSynthesizer("ar", **FAST)
    with pytest.raises(RecordError, match="RecordDataset"):
        model.fit(nafld.tables["patients"])
    with pytest.raises(RecordError, match="unknown table"):
        model.fit(nafld, owners={"visits": "patients"})
    with pytest.raises(RecordError, match="unknown table"):
        model.fit(nafld, keep=["airports"])
    with pytest.raises(RecordError, match="unknown table"):
        model.fit(nafld, sequence_index={"vitals": "days"})
    with pytest.raises(RecordError, match="no parent 'events'"):
        model.fit(nafld, owners={"labs": "events"})
    with pytest.raises(RecordError, match="column 'hour'"):
        model.fit(nafld, sequence_index={"labs": "hour"})
    with pytest.raises(RecordError, match="not its parent"):
        model.fit(nafld, keep=["labs"])


def test_bad_parameters_raise_parameter_errors(nafld, nafld_model):
    with pytest.raises(ParameterError, match="max_key_categories"):
        synthkit.RecordSynthesizer("ar", max_key_categories=0).fit(nafld)
    with pytest.raises(ParameterError, match="context_depth"):
        synthkit.RecordSynthesizer("ar", context_depth=0).fit(nafld)
    with pytest.raises(ParameterError, match="table_model"):
        synthkit.RecordSynthesizer("ar", table_model="nope").fit(nafld)
    with pytest.raises(ParameterError, match="Name a record model"):
        synthkit.RecordSynthesizer()
    with pytest.raises(ParameterError, match="scale"):
        nafld_model.sample(scale=0)
    with pytest.raises(ConditionError, match="not synthesized root tables"):
        nafld_model.sample(conditions={"labs": {"test": "hdl"}})


# ----------------------------------------------------- supporting pieces
def test_sequence_model_without_context_model():
    events = pd.read_csv(DATA / "nafld3_sample.csv.gz")
    patients = pd.read_csv(DATA / "nafld1_sample.csv.gz")[["id", "age", "male"]]
    model = synthkit.SequenceSynthesizer(
        "ar", context_model=None, epochs=1, verbose=False, random_state=0
    )
    model.fit(events, context=patients, sequence_key="id", sequence_index="days")
    assert model.context_model_ is None
    assert model.layout_["constant_columns"] == []
    drawn = model.sample(context=patients.head(10), random_state=0)
    assert drawn.data["id"].isin(patients["id"].head(10)).all()
    with pytest.raises(ParameterError, match="context_model=None"):
        model.sample(5)


def test_a_column_can_switch_off_rare_category_pooling():
    frame = pd.DataFrame({"dest": ["BOS"] * 20 + ["LAX"] * 20 + ["SJU"], "gate": ["a"] * 41})
    frame.loc[40, "gate"] = "b"
    metadata = synthkit.Metadata.detect(frame, rules=False)
    metadata.update_column("dest", kind="categorical", rare_category_threshold=0)
    encoder = Discretizer(rare_category_threshold=5).fit(frame, metadata)
    assert "SJU" in encoder.transforms_["dest"].categories
    assert "b" not in encoder.transforms_["gate"].categories


@settings(max_examples=25, deadline=None)
@given(
    data_frames(
        [
            column("n", dtype=float),
            column("k", elements=st.integers(-(2**40), 2**40)),
            column("s", elements=st.one_of(st.none(), st.text(max_size=5))),
        ]
    )
)
def test_frames_round_trip_through_model_file_text(frame):
    back = frame_from_text(frame_to_text(frame))
    pd.testing.assert_frame_equal(back, frame.reset_index(drop=True))


def test_a_root_with_nothing_to_learn_is_drawn_without_a_model():
    # A root of a key, a constant and a name column: no table model (it would refuse
    # a table of constants); a root with a number that varies gets one.
    labs = _nafld(40).tables["labs"]
    ids = labs["id"].unique()
    first = ["Anna", "James", "Maria", "David", "Laura", "Peter", "Sofia", "Lucas"]
    names = [first[i % len(first)] for i in range(len(ids))]
    for extra, role in (({}, "unlearned"), ({"age": np.arange(len(ids)) % 50 + 20}, "root")):
        root = pd.DataFrame({"id": ids, "site": "north", "first_name": names, **extra})
        dataset = synthkit.RecordDataset(
            {"patients": root, "labs": labs},
            [synthkit.Relationship("patients", "labs", "id", "id")],
            primary_keys={"patients": "id"},
        )
        model = synthkit.RecordSynthesizer("ar", random_state=0, **FAST).fit(dataset)
        assert model.layout_["tables"]["patients"]["role"] == role
        assert ("patients" in model.models_) == (role == "root")
        synthetic = model.sample(random_state=1)
        assert (synthetic.tables["patients"]["site"] == "north").all()
        assert synthetic.tables["labs"]["id"].isin(synthetic.tables["patients"]["id"]).all()


def test_columns_declared_pii_in_the_metadata_are_never_learned(tmp_path):
    # Codes that look like categories (a clinic, a lab technician) but that the user
    # declares identifying: no model may learn them, the children's contexts included.
    real = _nafld(120)
    tables = {name: frame.copy() for name, frame in real.tables.items()}
    clinics = ["Aldgate", "Brixton", "Camden", "Dalston"]
    technicians = ["Imogen", "Jasper", "Kezia"]
    tables["patients"]["clinic"] = [clinics[i % 4] for i in range(len(tables["patients"]))]
    tables["labs"]["technician"] = [technicians[i % 3] for i in range(len(tables["labs"]))]
    metadata = synthkit.RecordDataset(tables, real.relationships, primary_keys={"patients": "id"})
    declared = metadata.metadata
    declared["patients"].update_column("clinic", kind="pii", pii_type="last_name")
    declared["labs"].update_column("technician", kind="pii", pii_type="first_name")
    dataset = synthkit.RecordDataset(tables, real.relationships, metadata=declared)
    model = synthkit.RecordSynthesizer("ar", random_state=0, **FAST).fit(dataset)
    synthetic = model.sample(random_state=1)
    assert not synthetic.tables["patients"]["clinic"].isin(clinics).any()
    assert not synthetic.tables["labs"]["technician"].isin(technicians).any()
    plan = model.layout_["tables"]["patients"]
    assert "clinic" in plan["values"] and "clinic" not in plan["learned"]
    path = model.save(tmp_path / "records.synthkit")
    with zipfile.ZipFile(path) as archive:
        stored = archive.read("model.json").decode()
    assert not any(name in stored for name in clinics + technicians)


def test_a_learned_key_in_a_parent_reaches_its_children_as_a_category():
    # Flights learn their destination (a key into the kept airports) as a category;
    # the delays under each flight see it in their context, as a category too.
    rng = np.random.default_rng(0)
    airports = pd.DataFrame({"faa": ["BOS", "LAX", "ORD", "SEA"], "alt": [19, 126, 672, 433]})
    planes = pd.DataFrame(
        {"tailnum": [f"N{i:03d}" for i in range(60)], "seats": rng.integers(50, 300, 60)}
    )
    flights = pd.DataFrame(
        {
            "flight": np.arange(240),
            "tailnum": np.repeat(planes["tailnum"], 4).to_numpy(),
            "dest": rng.choice(airports["faa"], 240),
            "distance": rng.integers(200, 3000, 240),
        }
    )
    delays = pd.DataFrame(
        {"flight": np.repeat(flights["flight"], 2).to_numpy(), "minutes": rng.gamma(2.0, 10.0, 480)}
    )
    dataset = synthkit.RecordDataset(
        {"airports": airports, "planes": planes, "flights": flights, "delays": delays},
        [
            synthkit.Relationship("planes", "flights", "tailnum", "tailnum"),
            synthkit.Relationship("airports", "flights", "faa", "dest"),
            synthkit.Relationship("flights", "delays", "flight", "flight"),
        ],
        root="planes",
    )
    model = synthkit.RecordSynthesizer("ar", random_state=0, **FAST).fit(dataset, keep=["airports"])
    context = model.models_["delays"].context_encoder_
    assert "flights.dest" in context.learned_columns
    assert sorted(context.transforms_["flights.dest"].categories) == ["BOS", "LAX", "ORD", "SEA"]
    _assert_integrity(model.sample(random_state=1))
