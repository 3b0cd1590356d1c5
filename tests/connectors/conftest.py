from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="session")
def adult() -> pd.DataFrame:
    from synthkit.datasets import load_adult

    return load_adult("train").head(3000)


@pytest.fixture(scope="session")
def typed_frame() -> pd.DataFrame:
    """Every dtype a round trip must keep."""
    n = 6
    return pd.DataFrame(
        {
            "int": [1, 2, 3, 4, 5, 6],
            "nullable_int": pd.array([1, None, 3, 4, None, 6], dtype="Int64"),
            "float": [0.1, 1 / 3, None, 1e300, -2.5, 0.0],
            "text": ["a", None, "", "x,y", 'q"z', "ünï"],
            "code": ["007", "012", "100", "000", "042", "999"],
            "flag": [True, False, True, True, False, False],
            "category": pd.Categorical(["u", "v", "u", None, "w", "v"]),
            "when": pd.date_range("2024-01-01", periods=n, freq="37h"),
            "when_tz": pd.date_range("2024-03-30", periods=n, freq="7h", tz="Europe/Oslo"),
        }
    )


@pytest.fixture(scope="session")
def actg() -> pd.DataFrame:
    return pd.read_csv(DATA / "actg175.csv.gz").drop(columns=["Unnamed: 0"])


@pytest.fixture(scope="session")
def patient_records(actg) -> list[dict]:
    """ACTG 175 patients, each with the list of CD4/CD8 measurements of the trial."""
    import numpy as np

    frame = actg.head(300)
    visits = pd.DataFrame(
        {
            "pidnum": np.repeat(frame["pidnum"].to_numpy(), 3),
            "week": np.tile([0, 20, 96], len(frame)),
            "cd4": frame[["cd40", "cd420", "cd496"]].to_numpy().ravel(),
            "cd8": np.column_stack(
                [frame["cd80"], frame["cd820"], np.full(len(frame), np.nan)]
            ).ravel(),
        }
    ).dropna(subset=["cd4"])
    grouped = visits.drop(columns="pidnum").to_dict("records")
    owners = visits["pidnum"].to_numpy()
    patients = frame[["pidnum", "age", "wtkg", "gender", "race", "treat", "days", "cens"]]
    records = patients.to_dict("records")
    by_patient: dict = {}
    for owner, visit in zip(owners, grouped, strict=True):
        by_patient.setdefault(owner, []).append(
            {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in visit.items()}
        )
    for record in records:
        record["profile"] = {"age": record["age"], "weight": record.pop("wtkg")}
        record["visits"] = by_patient.get(record["pidnum"], [])
    return records


@pytest.fixture(scope="session")
def actg_visits(patient_records):
    from synthkit.connectors import RecordDataset

    return RecordDataset.from_records(patient_records, name="patients", primary_key="pidnum")
