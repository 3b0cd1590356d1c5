"""A database's table models fitted side by side in worker processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

import synthkit
from synthkit.errors import DataError, ParameterError
from synthkit.generators.records.table_fits import TableFit, fit_tables, worker_count

DATA = Path(__file__).parent / "data"
FAST = {"epochs": 2, "verbose": False, "sequence_params": {"state_dim": 16, "hidden_dim": 16}}
CPU = torch.device("cpu")
forks = pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")


def _nafld(n_patients: int) -> synthkit.RecordDataset:
    patients = pd.read_csv(DATA / "nafld1_sample.csv.gz").head(n_patients)
    labs = pd.read_csv(DATA / "nafld2_sample.csv.gz")
    events = pd.read_csv(DATA / "nafld3_sample.csv.gz")
    return synthkit.RecordDataset(
        {
            "patients": patients,
            "labs": labs[labs["id"].isin(patients["id"])],
            "events": events[events["id"].isin(patients["id"])],
        },
        [
            synthkit.Relationship("patients", "labs", "id", "id", order="days"),
            synthkit.Relationship("patients", "events", "id", "id", order="days"),
        ],
        primary_keys={"patients": "id"},
    )


class _Dies:
    """A model whose fit ends its process, as the kernel's memory killer would."""

    device = "cpu"

    def set_params(self, **params: object) -> _Dies:
        return self

    def fit(self, *args: object) -> _Dies:
        os._exit(3)


@forks
def test_tables_fitted_in_workers_sample_as_tables_fitted_here():
    database = _nafld(80)
    here = synthkit.RecordSynthesizer("ar", random_state=4, n_jobs=1, **FAST).fit(database)
    workers = synthkit.RecordSynthesizer("ar", random_state=4, n_jobs=2, **FAST).fit(database)
    assert set(workers.fit_seconds_) == set(here.fit_seconds_) == {"patients", "labs", "events"}
    # Each worker's CPU seconds are its own, not this process's.
    assert all(seconds["cpu"] > 0 for seconds in workers.fit_seconds_.values())
    assert workers.models_["labs"].verbose is False
    assert workers.models_["labs"].device == "auto"
    drawn, expected = workers.sample(random_state=1), here.sample(random_state=1)
    for name in ("patients", "labs", "events"):
        pd.testing.assert_frame_equal(drawn.tables[name], expected.tables[name])


@forks
def test_a_workers_error_is_raised_as_its_own_class_and_the_other_fits_stop():
    good = synthkit.Synthesizer("ar", epochs=1, verbose=False, random_state=0)
    bad = synthkit.Synthesizer("ar", epochs=1, verbose=False, random_state=0)
    table = pd.DataFrame({"age": [30, 41, 52, 63] * 10})
    fits = [TableFit("people", good, (table,)), TableFit("empty", bad, (table.iloc[:0],))]
    with pytest.raises(DataError):
        fit_tables(fits, 2, CPU)


@forks
def test_a_worker_that_dies_is_named_with_its_exit_code():
    fits = [TableFit("labs", _Dies()), TableFit("events", _Dies())]
    with pytest.raises(RuntimeError, match=r"fitting table '(labs|events)' ended without a model"):
        fit_tables(fits, 2, CPU)  # type: ignore[list-item]


def test_worker_count_follows_n_jobs_the_cores_and_the_device():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    expected = min(cores or 1, 5) if sys.platform == "linux" else 1
    assert worker_count(-1, 5, CPU) == expected
    assert worker_count(1, 5, CPU) == 1
    assert worker_count(8, 1, CPU) == 1  # never more workers than fits
    assert worker_count(8, 3, torch.device("meta")) == 1  # a device a fork cannot share


@pytest.mark.parametrize("n_jobs", [0, -2, 1.5, True])
def test_n_jobs_must_be_minus_one_or_positive(n_jobs):
    model = synthkit.RecordSynthesizer("ar", n_jobs=n_jobs, **FAST)
    with pytest.raises(ParameterError, match="n_jobs"):
        model.fit(_nafld(20))
