"""A differentially private fit learns no rule between columns: none stores a real value."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import synthkit
from synthkit.errors import ParameterError
from synthkit.metadata import Metadata
from tests.conftest import DATA


@pytest.fixture(scope="module")
def cgd() -> pd.DataFrame:
    """Chronic granulomatous disease visits: ``tstop > tstart`` and centre/hospital pairs."""
    return pd.read_csv(DATA / "cgd.csv.gz")


def _private_fit(frame: pd.DataFrame, metadata: Metadata) -> synthkit.Synthesizer:
    model = synthkit.Synthesizer(
        "ar", epsilon=4.0, epochs=1, random_state=0, verbose=False, device="cpu"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # narrow noisy ranges on 203 rows
        return model.fit(frame, metadata=metadata)


def test_detected_rules_are_left_out_of_a_private_fit(cgd: pd.DataFrame, tmp_path) -> None:
    metadata = Metadata.detect(cgd)
    detected = list(metadata.rules)
    assert any(rule.kind == "inequality" for rule in detected)
    assert any(rule.kind == "fixed_combinations" for rule in detected)

    model = _private_fit(cgd, metadata)

    assert model.metadata_.rules == []
    assert model.encoder_.rules_ is None
    assert metadata.rules == detected  # the caller's metadata is not changed
    model.save(tmp_path / "cgd.synthkit")
    reloaded = synthkit.load_model(tmp_path / "cgd.synthkit")
    assert reloaded.metadata_.rules == []
    assert len(reloaded.sample(50)) == 50


def test_a_declared_rule_is_refused_by_a_private_fit(cgd: pd.DataFrame) -> None:
    metadata = Metadata.detect(cgd, rules=False)
    metadata.add_rule("inequality", low="tstart", high="tstop", strict=True)

    with pytest.raises(ParameterError, match=r"declares \[Inequality\(tstop > tstart\)\]"):
        _private_fit(cgd, metadata)


def test_rules_stay_learned_without_epsilon(cgd: pd.DataFrame) -> None:
    model = synthkit.Synthesizer("ar", epochs=1, random_state=0, verbose=False, device="cpu")
    model.fit(cgd, metadata=Metadata.detect(cgd))

    assert model.encoder_.rules_ is not None
    synthetic = model.sample(200)
    assert (synthetic["tstop"] > synthetic["tstart"]).all()


def _private_sequence_fit(visits: pd.DataFrame) -> synthkit.SequenceSynthesizer:
    model = synthkit.SequenceSynthesizer(
        "ar", epsilon=4.0, epochs=1, batch_size=32, random_state=0, verbose=False, device="cpu"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # narrow noisy ranges on 128 patients
        return model.fit(visits)


def test_a_private_sequence_fit_keeps_no_index_rule(cgd: pd.DataFrame, tmp_path) -> None:
    visits = synthkit.SequenceDataset(cgd, sequence_key="id", sequence_index="tstart")
    assert any(rule.kind == "inequality" for rule in visits.metadata.rules)  # tstop > tstart

    model = _private_sequence_fit(visits)

    assert model.metadata_.rules == []
    assert model.layout_.get("index_rules") is None
    model.save(tmp_path / "cgd.synthkit")
    reloaded = synthkit.load_model(tmp_path / "cgd.synthkit")
    assert reloaded.metadata_.rules == []
    synthetic = reloaded.sample(n_entities=20).data
    assert list(synthetic.columns) == list(cgd.columns) and len(synthetic) > 0


def test_a_declared_index_rule_is_refused_by_a_private_sequence_fit(cgd: pd.DataFrame) -> None:
    metadata = Metadata.detect(cgd, rules=False)
    metadata.add_rule("inequality", low="tstart", high="tstop", strict=True)
    visits = synthkit.SequenceDataset(cgd, "id", "tstart", metadata=metadata)

    with pytest.raises(ParameterError, match=r"these sequences declares \[Inequality"):
        _private_sequence_fit(visits)


def test_an_ordinary_sequence_fit_keeps_its_index_rule(cgd: pd.DataFrame) -> None:
    visits = synthkit.SequenceDataset(cgd, sequence_key="id", sequence_index="tstart")
    model = synthkit.SequenceSynthesizer(
        "ar", epochs=1, batch_size=32, random_state=0, verbose=False, device="cpu"
    )
    model.fit(visits)

    assert model.layout_.get("index_rules") is not None
