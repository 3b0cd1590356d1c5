"""Data sets bundled with synthkit, so demos, examples and benchmarks run offline."""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = [
    "load_adult",
    "load_card_statements",
    "load_cdnow",
    "load_nafld_events",
    "load_nafld_labs",
]


def load_adult(split: str = "train") -> pd.DataFrame:
    """Load the UCI Adult census income data bundled with synthkit.

    32,561 training and 16,281 test rows, 15 columns; ``income`` is the label
    (``">50K"`` for 24 % of rows). ``'?'`` in the source is read as missing.
    Source: UCI Machine Learning Repository (CC BY 4.0); see ``data/README.md``.

    Args:
        split: ``"train"`` or ``"test"``.

    Returns:
        The split as a DataFrame with integer and string columns.

    Example:
        >>> df = load_adult("train")
        >>> df.shape
        (32561, 15)
    """
    if split not in ("train", "test"):
        from synthkit.errors import ParameterError

        raise ParameterError(f"split={split!r}: use 'train' or 'test'.")
    source = resources.files(__package__).joinpath("data", f"adult_{split}.csv.gz")
    with resources.as_file(source) as path:
        frame = pd.read_csv(path, na_values=["?"], skipinitialspace=True)
    return frame


def _read(name: str, **kwargs: object) -> pd.DataFrame:
    source = resources.files(__package__).joinpath("data", name)
    with resources.as_file(source) as path:
        return pd.read_csv(path, **kwargs)


def load_card_statements() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load monthly statements of 6,000 credit cards with each card's context.

    A sample (seed 0) of the UCI "default of credit card clients" data (Taiwan,
    2005; CC BY 4.0; see ``data/README.md``), reshaped from one row per card to
    one event per card and month. ``month`` runs from 1 (April 2005) to 6
    (September 2005, the latest statement); ``pay_status`` is the repayment
    status that month (-2: no consumption, -1: paid in full, 0: revolving
    credit, 1..8: months of delay), ``bill_amt`` the statement balance and
    ``pay_amt`` the amount paid, in NT dollars. The context holds the card's
    credit limit (``limit_bal``), the holder's ``sex``, ``education``,
    ``marriage`` and ``age``, and ``has_default`` (1 for the 22 % of cards whose
    holder defaulted on the next payment).

    Returns:
        ``(events, context)``: 36,000 statements keyed by ``card`` and ordered
        by ``month``, and one row per card keyed by ``card``.

    Example:
        >>> events, cards = load_card_statements()
        >>> events.shape, cards.shape
        ((36000, 5), (6000, 7))
        >>> list(events.columns)
        ['card', 'month', 'pay_status', 'bill_amt', 'pay_amt']
    """
    return _read("card_statements.csv.gz"), _read("card_holders.csv.gz")


def load_cdnow() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load the purchases of 1,000 CDNOW customers with each customer's cohort.

    A sample (seed 0) of the CDNOW data (23,570 customers who first bought CDs
    from CDNOW in the first quarter of 1997, followed to June 1998; from the
    ``lifetimes`` package, MIT; see ``data/README.md``). Events are purchases:
    ``customer_id``, ``date`` (an integer ``yyyymmdd``; a customer can buy twice
    the same day), ``number_of_cds`` and ``dollar_value``. The context holds one
    row per customer: ``cohort``, the month of the first purchase
    (``"1997-01"``, ``"1997-02"`` or ``"1997-03"``), the acquisition cohort
    that customer-base analyses of this data group by.

    Returns:
        ``(events, context)``: 2,910 purchases keyed by ``customer_id`` and
        ordered by ``date``, and 1,000 customers keyed by ``customer_id``.

    Example:
        >>> purchases, customers = load_cdnow()
        >>> purchases.shape, customers.shape
        ((2910, 4), (1000, 2))
        >>> sorted(customers["cohort"].unique())
        ['1997-01', '1997-02', '1997-03']
    """
    events = _read("cdnow_purchases.csv.gz")
    first = events.groupby("customer_id", as_index=False)["date"].min()
    cohort = pd.to_datetime(first["date"].astype(str), format="%Y%m%d").dt.strftime("%Y-%m")
    return events, pd.DataFrame({"customer_id": first["customer_id"], "cohort": cohort})


def load_nafld_labs() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load 1,500 NAFLD cohort patients with their lab tests and vitals over time.

    A sample (seed 0) of the non-alcoholic fatty liver disease cohort of
    Olmsted County (Allen et al. 2018, from the R ``survival`` package; LGPL;
    see ``data/README.md``). Events are long-format measurements: ``id``,
    ``days`` (since the patient's index date; many tests share a day),
    ``test`` (``hdl``, ``chol``, ``sbp``, ``dbp``, ``smoke``, ``fib4``) and
    ``value``; 167 patients have none. The context holds one row per patient:
    ``age``, ``male``, ``weight``, ``height``, ``bmi``, ``case.id`` (the id of
    the matched case, an identifier), ``futime`` (days of follow-up) and
    ``status`` (1 if the patient died).

    Returns:
        ``(events, context)``: 33,713 lab events keyed by ``id`` and ordered by
        ``days``, and 1,500 patients keyed by ``id``.

    Example:
        >>> labs, patients = load_nafld_labs()
        >>> labs.shape, patients.shape
        ((33713, 4), (1500, 9))
    """
    return _read("nafld_labs.csv.gz"), _read("nafld_patients.csv.gz")


def load_nafld_events() -> pd.DataFrame:
    """Load the clinical events of the 1,500 NAFLD patients of :func:`load_nafld_labs`.

    The ``nafld3`` table of the same cohort (R ``survival`` package; LGPL; see
    ``data/README.md``) restricted to those patients: ``id``, ``days`` (since
    the patient's index date) and ``event`` (``nafld``, ``diabetes``, ``htn``,
    ``dyslipidemia``, ``MI``, ``afib``, ``heart failure``, ``ang/isc``,
    ``stroke`` or ``cardiac arrest``); 1,062 patients have some. With the
    patients and labs it makes a three-table medical record keyed by ``id``.

    Returns:
        2,910 events keyed by ``id`` and ordered by ``id`` and ``days``.

    Example:
        >>> events = load_nafld_events()
        >>> events.shape, list(events.columns)
        ((2910, 3), ['id', 'days', 'event'])
        >>> _, patients = load_nafld_labs()
        >>> bool(events["id"].isin(patients["id"]).all())
        True
    """
    return _read("nafld_events.csv.gz")
