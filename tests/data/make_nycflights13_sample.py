"""Build ``tests/data/nycflights13_sample/`` from the full nycflights13 tables.

The sample holds every flight of two days (2013-01-01 and 2013-07-01, 1,808
flights), all airlines, the planes and airports those flights reference plus
40 unreferenced ones of each (drawn with seed 0, so parents without children
exist), and the weather of the three origin airports on those days. The real
orphans are kept on purpose: some flights' ``tailnum`` is not in ``planes``
and some ``dest`` airports (BQN, SJU, STT, PSE) are not in ``airports``.

Run from the repository root (the source is not read by the tests)::

    python tests/data/make_nycflights13_sample.py ../shared/data/nycflights13
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

DAYS = [(1, 1), (7, 1)]
UNREFERENCED = 40
SEED = 0
OUT = Path(__file__).parent / "nycflights13_sample"
# mtime=0 keeps the gzip bytes the same from one run to the next.
GZIP = {"method": "gzip", "mtime": 0}


def _with_unreferenced(table: pd.DataFrame, key: str, used: pd.Series) -> pd.DataFrame:
    referenced = table[key].isin(used)
    extra = table[~referenced].sample(UNREFERENCED, random_state=SEED)
    return table[referenced | table.index.isin(extra.index)]


def main(source: Path) -> None:
    flights = pd.read_csv(source / "flights.csv.gz")
    day = pd.Series(list(zip(flights["month"], flights["day"], strict=True)))
    flights = flights[day.isin(DAYS).to_numpy()]
    planes = _with_unreferenced(
        pd.read_csv(source / "planes.csv.gz"), "tailnum", flights["tailnum"]
    )
    airports = pd.read_csv(source / "airports.csv.gz")
    airports = _with_unreferenced(airports, "faa", pd.concat([flights["origin"], flights["dest"]]))
    weather = pd.read_csv(source / "weather.csv.gz")
    weather_day = pd.Series(list(zip(weather["month"], weather["day"], strict=True)))
    weather = weather[weather_day.isin(DAYS).to_numpy()]
    OUT.mkdir(exist_ok=True)
    tables = {
        "flights": flights,
        "planes": planes,
        "airlines": pd.read_csv(source / "airlines.csv.gz"),
        "airports": airports,
        "weather": weather,
    }
    for name, table in tables.items():
        table.to_csv(OUT / f"{name}.csv.gz", index=False, compression=GZIP)
        print(f"{name}: {len(table)} rows x {table.shape[1]} columns")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/nycflights13"))
