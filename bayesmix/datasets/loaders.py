"""Load the bundled reference data sets (provenance: ``data/PROVENANCE.md``)."""

from __future__ import annotations

from importlib import resources

import pandas as pd

_FILES = {"bfi": "bfi.csv", "bfi_en": "bfi_en.csv", "carcinoma": "carcinoma.csv", "election": "election.csv", "lsat7": "lsat7.csv",
          "sai_lta": "sai_lta.csv", "sai_2level": "sai_2level.csv"}


def available() -> list[str]:
    """Names accepted by :func:`load`.

    Returns
    -------
    list of str

    Examples
    --------
    >>> import bayesmix as bm
    >>> bm.datasets.available()
    ['bfi', 'bfi_en', 'carcinoma', 'election', 'lsat7', 'sai_2level', 'sai_lta']
    """
    return sorted(_FILES)


def load(name: str) -> pd.DataFrame:
    """Load a bundled data set as a DataFrame.

    - ``bfi``: 2,800 persons, all 25 Big Five Inventory items (A1-A5, C1-C5,
      E1-E5, N1-N5, O1-O5; 1-6 ratings as given, reverse-keyed items not
      recoded, 508 missing responses as NaN), ``gender``, ``education``
      (1-5, NaN if not given), ``age``; R psych ``bfi`` (GoM on 25 ordinal items).
    - ``bfi_en``: 2,617 persons, the five extraversion (E1-E5) and five
      neuroticism (N1-N5) items of the Big Five Inventory (1-6 ratings; E1, E2
      reverse keyed), ``gender`` (1 male, 2 female) and ``age``; R psych
      ``bfi``, complete cases on the ten items (the mixture SEM case study).
    - ``carcinoma``: 118 slides x 7 pathologists (A-G), 1 = carcinoma
      (Agresti 2002, Table 13.1); published ML: 2-class LCA LL -317.2568.
    - ``election``: 2000 American National Election Study, 1,785 respondents:
      how well 12 traits describe Gore (MORALG, CARESG, KNOWG, LEADG, DISHONG,
      INTELG) and Bush (MORALB ... INTELB), 1 "extremely well" to 4 "not well
      at all", with missing answers (NaN); VOTE3, AGE, EDUC (1-7), GENDER
      (1 male, 2 female), PARTY (1 strong Democrat to 7 strong Republican);
      R poLCA ``election`` (the workflow case study).
    - ``lsat7``: LSAT section 7, 1000 x 5 binary items (Bock & Lieberman 1970).
    - ``sai_lta``: state anxiety, 5 binary items at two occasions, persons in 28 studies.
    - ``sai_2level``: state anxiety at time 1, 2,966 persons x 5 binary items in
      28 studies (section 6's within and between classes); reference ML with
      K = 2, M = 3, P(C | D) free: LL -8256.7686 (15 parameters).

    Parameters
    ----------
    name : str
        One of :func:`available`.

    Returns
    -------
    DataFrame

    Examples
    --------
    >>> import bayesmix as bm
    >>> bm.datasets.load("carcinoma").shape
    (118, 7)
    """
    if name not in _FILES:
        raise ValueError(f"unknown data set {name!r}; available: {available()}.")
    path = resources.files("bayesmix.datasets") / "data" / _FILES[name]
    with resources.as_file(path) as p:
        return pd.read_csv(p)
