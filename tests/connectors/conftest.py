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
