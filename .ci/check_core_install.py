"""A plain ``pip install synthkit`` (no extras) loads, fits, samples and evaluates.

Run by ``.ci/run`` in a fresh virtual environment without sdv or sdmetrics (both
under the Business Source License), great-expectations, duckdb or psycopg2.
"""

from __future__ import annotations

import importlib.util
import sys

import synthkit
from synthkit.datasets import load_adult
from synthkit.errors import MissingDependencyError

OPTIONAL = ("sdv", "sdmetrics", "great_expectations", "duckdb", "duckdb_engine", "psycopg2")


def main() -> None:
    """Fail loudly if the core needs an optional package or a missing one gives no hint."""
    present = [name for name in OPTIONAL if importlib.util.find_spec(name) is not None]
    assert not present, f"optional packages installed without their extra: {present}"
    try:
        import sdv  # noqa: F401
    except ImportError:
        pass
    else:
        raise AssertionError("import sdv worked; this environment must not have it")

    real = load_adult("train").sample(2_000, random_state=0)
    holdout = load_adult("test").sample(1_000, random_state=0)
    model = synthkit.Synthesizer("ar", epochs=1, verbose=False, random_state=0).fit(real)
    synthetic = model.sample(1_000, random_state=0)
    assert list(synthetic.columns) == list(real.columns), synthetic.columns
    report = synthkit.evaluate(real, synthetic, holdout=holdout, target="income")
    scores = report.to_frame()["value"]
    assert scores.notna().any(), scores

    # Optional parts name the extra that installs them.
    try:
        synthkit.Metadata.detect(real).to_sdv()
    except MissingDependencyError as error:
        assert 'pip install "synthkit[sdv]"' in str(error), error
    else:
        raise AssertionError("to_sdv worked without sdv installed")
    print(f"core install ok: synthkit {synthkit.__version__} on Python {sys.version.split()[0]}")
    print(scores.round(4).to_string())


if __name__ == "__main__":
    main()
