"""Person names: Faker's name lists, sex and gender words, and name parts told apart.

Detection reads the lists (a column of mostly known first names is a ``first_name``
column) and the gender words (a ``sex`` column of ``M``/``F`` or ``homme``/``femme``);
regeneration draws new names from the same lists with every real name taken out.
"""

from __future__ import annotations

import functools
import importlib
import unicodedata
import zlib
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "GENDER_WORDS",
    "gender_codes",
    "is_gender_column",
    "known_first_names",
    "known_last_names",
    "known_name_share",
    "strip_accents",
]

#: Locales whose name lists detection knows (English and common European languages).
LOCALES = (
    *("en_US", "en_GB", "en_IE", "en_NZ", "de_DE", "fr_FR"),
    *("es_ES", "it_IT", "nl_NL", "pt_BR", "pt_PT"),
)

#: Values of a sex or gender column, lower-cased and without accents, by gender.
GENDER_WORDS = {
    "male": frozenset(
        [
            "m",
            "male",
            "man",
            "men",
            "boy",
            "boys",
            "masculine",
            "masc",
            "mann",
            "mannlich",
            "maennlich",
            "herr",
            "homme",
            "masculin",
            "garcon",
            "h",
            "hombre",
            "masculino",
            "varon",
            "chico",
            "uomo",
            "maschio",
            "maschile",
            "ragazzo",
            "mannelijk",
            "jongen",
            "homem",
            "rapaz",
            "mr",
        ]
    ),
    "female": frozenset(
        [
            "f",
            "w",
            "female",
            "woman",
            "women",
            "girl",
            "girls",
            "feminine",
            "fem",
            "frau",
            "weiblich",
            "madchen",
            "dame",
            "femme",
            "feminin",
            "fille",
            "mujer",
            "femenino",
            "femenina",
            "chica",
            "donna",
            "femmina",
            "femminile",
            "ragazza",
            "vrouw",
            "vrouwelijk",
            "meisje",
            "v",
            "mulher",
            "feminino",
            "menina",
            "mrs",
            "ms",
            "miss",
        ]
    ),
}
_GENDER_OF = {word: gender for gender, words in GENDER_WORDS.items() for word in words}


def strip_accents(text: str) -> str:
    """``"Prénom"`` as ``"Prenom"``: letters without their accents.

    Example:
        >>> strip_accents("Prénom Müller")
        'Prenom Muller'
    """
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _listed(attribute_names: tuple[str, ...], locales: tuple[str, ...]) -> frozenset[str]:
    names: set[str] = set()
    for locale in locales:  # a handful of locales
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attribute in attribute_names:
            listed = getattr(provider, attribute, ())
            names.update(listed.keys() if isinstance(listed, dict) else listed)
    return frozenset(names)


@functools.cache
def known_first_names() -> frozenset[str]:
    """First names Faker knows for several Western locales (a few thousand).

    Example:
        >>> "Mary" in known_first_names(), "Table" in known_first_names()
        (True, False)
    """
    return _listed(("first_names", "first_names_male", "first_names_female"), LOCALES)


@functools.cache
def known_last_names() -> frozenset[str]:
    """Last names Faker knows for several Western locales (a few thousand).

    Example:
        >>> "Smith" in known_last_names()
        True
    """
    return _listed(("last_names",), LOCALES)


def known_name_share(values: pd.Series, pii_type: str) -> float:
    """Share of ``values`` whose first word is a name Faker knows, for a name-part type.

    Surnames (``last_name``, ``maiden_name``) are looked up among last names, every
    other part among first names; capitals are ignored (``"SMITH"``).

    Example:
        >>> known_name_share(pd.Series(["Mary", "JOHN", "Table"]), "first_name")
        0.6666666666666666
    """
    if values.empty:
        return 0.0
    words = values.astype(str).str.strip().str.split(" ").str[0]
    known = known_last_names() if pii_type in ("last_name", "maiden_name") else known_first_names()
    return float((words.isin(known) | words.str.title().isin(known)).mean())


def gender_codes(values: pd.Series | np.ndarray) -> np.ndarray:
    """``0`` for male, ``1`` for female and ``-1`` for anything else, value by value.

    Example:
        >>> gender_codes(pd.Series(["M", "female", "Femme", None, "x"])).tolist()
        [0, 1, 1, -1, -1]
    """
    series = pd.Series(np.asarray(values, dtype=object))
    texts = series.astype(str).where(series.notna(), "").to_numpy(dtype=str)
    distinct, inverse = np.unique(texts, return_inverse=True)
    words = [strip_accents(value).strip().lower().rstrip(".") for value in distinct.tolist()]
    codes = np.array(
        [{"male": 0, "female": 1}.get(_GENDER_OF.get(word, ""), -1) for word in words],
        dtype=np.int64,
    )
    return codes[inverse.reshape(-1)] if len(distinct) else np.zeros(0, dtype=np.int64)


def is_gender_column(values: pd.Series) -> bool:
    """Whether a column holds sex or gender: both genders, nine values in ten known words.

    Example:
        >>> is_gender_column(pd.Series(["male", "female", "male"]))
        True
        >>> is_gender_column(pd.Series(["yes", "no", "yes"]))
        False
    """
    present = values.dropna()
    if present.empty or present.nunique() > 6:
        return False
    codes = gender_codes(present)
    return bool((codes >= 0).mean() >= 0.9 and (codes == 0).any() and (codes == 1).any())


#: Titles that may open the given names of a full name ("Braund, Mr. Owen Harris").
TITLES = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "rev",
        "master",
        "sir",
        "lady",
        "madam",
        "mme",
        "mlle",
        "herr",
        "frau",
        "sr",
        "sra",
        "srta",
        "sig",
        "sig.ra",
        "dhr",
        "mevr",
    ]
)
_SUFFIXES = frozenset(
    ["jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "md", "phd", "dds", "dvm", "esq", "esq."]
)
#: Name parts of a full name, and the PII type a column holding one of them gets.
PART_TYPES = {"first": "first_name", "middle": "middle_name", "last": "last_name"}


def split_full_names(names: pd.Series) -> pd.DataFrame:
    """Split full names into ``title``, ``first``, ``middle`` and ``last`` parts.

    ``"Last, Title First Middle (Other)"`` and ``"Title First Middle Last Suffix"``
    are both read; words in parentheses are left out.

    Example:
        >>> parts = split_full_names(pd.Series(["Braund, Mr. Owen Harris", "Ann B. Lee"]))
        >>> parts.to_dict("records")[0]
        {'title': 'Mr.', 'first': 'Owen', 'middle': 'Harris', 'last': 'Braund', 'comma': True}
        >>> parts["last"].tolist()
        ['Braund', 'Lee']
    """
    text = names.astype("string").str.replace(r"\([^)]*\)?|\"[^\"]*\"", " ", regex=True)
    text = text.str.replace(r"\s+", " ", regex=True).str.strip()
    comma = text.str.contains(",", regex=False).fillna(False).astype(bool)
    pieces = text.str.split(",", n=1)
    before = pieces.str[0].astype("string").str.strip()
    after = pieces.str[1].astype("string").str.strip()
    words = text.where(~comma, after).fillna("").str.split(" ")
    rows = []
    for row_words, has_comma, surname in zip(
        words.tolist(), comma.tolist(), before.tolist(), strict=True
    ):  # loop over rows: names are short lists of words
        row_words = [word for word in row_words if word]
        title = None
        if row_words and row_words[0].lower().rstrip(".") in TITLES:
            title = row_words.pop(0)
        if not has_comma:
            while len(row_words) > 1 and row_words[-1].lower().rstrip(",") in _SUFFIXES:
                row_words.pop()
            surname = row_words.pop() if len(row_words) > 1 else None
        first = row_words[0] if row_words else None
        middle = " ".join(row_words[1:]) or None
        rows.append((title, first, middle, surname if surname else None, has_comma))
    return pd.DataFrame(
        rows, columns=["title", "first", "middle", "last", "comma"], index=names.index
    )


def name_relation(names: pd.Series, part: pd.Series) -> tuple[str | None, float]:
    """Which part of the full name of the same row ``part`` holds, and in what share of rows.

    Example:
        >>> names = pd.Series(["Braund, Mr. Owen Harris", "Ann Lee", "Bo Diaz"])
        >>> name_relation(names, pd.Series(["Owen", "Ann", "Bo"]))
        ('first', 1.0)
        >>> name_relation(names, pd.Series(["x", "y", "z"]))
        (None, 0.0)
    """
    both = names.notna() & part.notna()
    if not both.any():
        return None, 0.0
    split = split_full_names(names[both])
    values = part[both].astype(str).str.strip().str.lower()
    best, best_share = None, 0.0
    for candidate in ("first", "last", "middle"):  # three candidate parts
        found = split[candidate].astype("string").str.lower() == values.astype("string")
        share = float(found.fillna(False).astype(bool).mean())
        if share > best_share:
            best, best_share = candidate, share
    return best, best_share


# ----------------------------------------------------------------- regeneration
#: Locales whose lists new names are drawn from (English names, gendered lists).
POOL_LOCALES = ("en_US", "en_GB", "en_IE", "en_NZ")
#: Name types regenerated from the pools below (with the full name of the row, if any).
NAME_TYPES = frozenset({"name", "first_name", "middle_name", "last_name", "maiden_name"})
# The pools each name type draws from (a full name draws from all of them).
_POOLS_USED = {
    "name": ("first_male", "first_female", "last"),
    "first_name": ("first_male", "first_female"),
    "middle_name": ("first_male", "first_female"),
    "last_name": ("last",),
    "maiden_name": ("last",),
}
_MALE_TITLES = frozenset(["mr", "master", "sir", "herr", "sr", "sig", "dhr"])
_FEMALE_TITLES = frozenset(
    ["mrs", "ms", "miss", "lady", "madam", "mme", "mlle", "frau", "sra", "srta", "mevr"]
)


@functools.cache
def base_pools() -> dict[str, tuple[str, ...]]:
    """Faker's gendered first names (names on both lists left out) and last names, sorted.

    Example:
        >>> pools = base_pools()
        >>> "Mary" in pools["first_female"], "Mary" in pools["first_male"]
        (True, False)
    """
    male = _listed(("first_names_male",), POOL_LOCALES)
    female = _listed(("first_names_female",), POOL_LOCALES)

    def single_words(names: frozenset[str]) -> tuple[str, ...]:
        # One word per name ("Te Ariki" left out), so a full name splits back into its parts.
        return tuple(sorted(name for name in names if " " not in name))

    return {
        "first_male": single_words(male - female),
        "first_female": single_words(female - male),
        "last": single_words(_listed(("last_names",), POOL_LOCALES)),
    }


def fit_name_pools(entry: dict[str, Any], real: pd.Series) -> dict[str, Any]:
    """What regenerating a name column needs, holding no real value.

    Every word of every real value is taken out of the candidate pools, and as many
    other candidates chosen at random (decoys), so the stored pools do not reveal
    which names were present. A full name also gets its layout: the share of
    ``"Last, Title First"`` forms, of middle names, and of each common title.

    Example:
        >>> real = pd.Series(["Braund, Mr. Owen Harris", "Cumings, Mrs. Mary"])
        >>> fitted = fit_name_pools({"pii_type": "name"}, real)
        >>> "Mary" in fitted["pools"]["first_female"], fitted["layout"]["comma"]
        (False, 1.0)
    """
    present = real.dropna().astype(str)
    # Every word, parentheses and punctuation aside ("(Lily May Peel)" holds three names).
    words = set(present.str.split(r"[^\w'-]+", regex=True).explode().str.lower())
    rng = np.random.default_rng(zlib.crc32(str(entry.get("pii_type")).encode()))
    pools: dict[str, list[str]] = {}
    for key, candidates in base_pools().items():
        if key not in _POOLS_USED[str(entry.get("pii_type"))]:
            continue  # store only the pools this column draws from
        listed = np.array(candidates, dtype=object)
        real_ones = np.isin(np.char.lower(listed.astype(str)), list(words))
        others = np.flatnonzero(~real_ones)
        decoys = min(int(real_ones.sum()), len(others) // 2)
        keep = ~real_ones
        keep[rng.choice(others, size=decoys, replace=False)] = False
        pools[key] = listed[keep].tolist()
    out: dict[str, Any] = {"pools": pools}
    if entry.get("pii_type") == "name" and len(present):
        split = split_full_names(present)
        titles = split["title"].dropna().str.lower().str.rstrip(".")
        counts = titles[titles.isin(TITLES)].value_counts()
        # Each title as the real rows spell it most ("Miss", "Mr."): a fixed word list.
        spelled = split["title"].dropna()
        shown = spelled.groupby(titles.to_numpy()).agg(lambda x: x.value_counts().index[0])
        out["layout"] = {
            "comma": round(float(split["comma"].mean()), 6),
            "middle": round(float(split["middle"].notna().mean()), 6),
            "titles": {shown[t]: round(float(c / len(split)), 6) for t, c in counts.items()},
        }
    return out


def generate_names(
    entry: dict[str, Any], n: int, seed: int, gender: pd.Series | None = None
) -> dict[str, np.ndarray]:
    """Full names and their parts drawn together: ``full``, ``first``, ``middle``, ``last``.

    First and middle names follow the gender of the row (``gender`` values such as
    ``"F"`` or ``"male"``; others get either), titles follow it too, and the full
    name is composed from the parts in the real layout, so each part column equals
    the matching part of the full name in the same row.

    Example:
        >>> names = generate_names({"pii_type": "name", "layout": {"comma": 1.0}}, 2, seed=0,
        ...                        gender=pd.Series(["female", "male"]))
        >>> [full.startswith(last + ", ") for full, last in zip(names["full"], names["last"])]
        [True, True]
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(b"names")]))
    stored = entry.get("pools") or {}
    pools = {
        key: np.array(stored.get(key) or base, dtype=str) for key, base in base_pools().items()
    }
    codes = np.full(n, -1) if gender is None else gender_codes(gender)
    unknown = codes < 0
    codes[unknown] = rng.integers(0, 2, size=int(unknown.sum()))

    def draw(key: str) -> np.ndarray:
        return pools[key][rng.integers(0, len(pools[key]), size=n)]

    female = codes == 1
    first = np.where(female, draw("first_female"), draw("first_male"))
    layout = entry.get("layout") or {}
    middle = np.where(female, draw("first_female"), draw("first_male"))
    middle = np.where(rng.random(n) < float(layout.get("middle", 0.0)), middle, "")
    last = draw("last")
    title = _titles(layout.get("titles") or {}, female, rng)
    given = np.strings.add(first, np.where(middle != "", np.strings.add(" ", middle), ""))
    titled = np.where(title != "", np.strings.add(np.strings.add(title, " "), given), given)
    comma = rng.random(n) < float(layout.get("comma", 0.0))
    full = np.where(
        comma,
        np.strings.add(np.strings.add(last, ", "), titled),
        np.strings.add(np.strings.add(titled, " "), last),
    )
    return {
        "full": full,
        "first": first,
        "middle": np.where(middle != "", middle, None),
        "last": last,
    }


def _titles(shares: dict[str, float], female: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A title per row drawn from the real shares, among the titles of the row's gender."""
    n = len(female)
    out = np.full(n, "", dtype=object)
    if not shares:
        return out.astype(str)
    names = list(shares)
    weights = np.array([shares[name] for name in names], dtype=float)
    plain = np.array([name.lower().rstrip(".") for name in names])
    untitled = max(1.0 - weights.sum(), 0.0)
    for is_female in (False, True):  # two genders
        rows = np.flatnonzero(female == is_female)
        other = _MALE_TITLES if is_female else _FEMALE_TITLES
        allowed = np.array([name not in other for name in plain])
        choices = np.array([*np.array(names)[allowed], ""], dtype=object)
        odds = np.array([*weights[allowed], untitled], dtype=float)
        if len(rows) == 0 or odds.sum() <= 0:
            continue
        out[rows] = choices[rng.choice(len(choices), size=len(rows), p=odds / odds.sum())]
    return out.astype(str)
