"""Pick, for each case, the most specific schedule row in effect (SPEC section 4, steps 1 and 9)."""

import numpy as np
import pandas as pd


def most_specific(cases, table, fields, weights, keep=None):
    """Index of the winning ``table`` row for each case, or -1 where no row matches.

    Parameters
    ----------
    cases : pandas.DataFrame
        One row per distinct case: the ``fields`` columns and ``day`` (a day number). A case value of
        ``""`` (for example no region) matches only ``*`` rows.
    table : pandas.DataFrame
        Schedule rows: the ``fields`` columns (``*`` = any), ``effective_from`` and ``effective_to``
        (day numbers, inclusive).
    fields : list of str
        The columns matched exactly or by ``*``.
    weights : list of int
        Score of an exact match in each field; the highest total score wins. Powers of two give a
        strict preference order, equal weights give "most exact fields wins".
    keep : callable, optional
        ``keep(candidates) -> bool array`` drops candidate pairs (columns of both frames) before the choice.

    Returns
    -------
    numpy.ndarray of int64
        Positional index into ``table`` per case. Ties cannot happen in validated schedules.
    """
    n = len(cases)
    best_row = np.full(n, -1, dtype="int64")
    best_score = np.full(n, -1, dtype="int64")
    if n == 0 or len(table) == 0:
        return best_row
    stars = np.column_stack([(table[f] == "*").to_numpy() for f in fields])
    pattern = stars @ (1 << np.arange(len(fields)))
    left = cases.reset_index(drop=True).assign(_case=np.arange(n))
    for p in np.unique(pattern):
        exact = [f for i, f in enumerate(fields) if not (p >> i) & 1]
        score = sum(w for i, w in enumerate(weights) if not (p >> i) & 1)
        rows = table.loc[pattern == p].assign(_row=np.flatnonzero(pattern == p))
        right = rows.drop(columns=[f for f in fields if f not in exact])
        if exact:
            cand = left.merge(right, on=exact, how="inner", suffixes=("", "_row"))
        else:
            cand = left.merge(right, how="cross", suffixes=("", "_row"))
        day = cand["day"].to_numpy()
        ok = (cand["effective_from"].to_numpy() <= day) & (day <= cand["effective_to"].to_numpy())
        if keep is not None:
            ok &= np.asarray(keep(cand), dtype=bool)
        cand = cand.loc[ok]
        case, row = cand["_case"].to_numpy(), cand["_row"].to_numpy()
        better = score > best_score[case]
        best_row[case[better]] = row[better]
        best_score[case[better]] = score
    return best_row


def case_ids(frame, keys):
    """Group rows by ``keys``: (per-row case id, frame of distinct cases in case-id order)."""
    codes = frame.groupby(list(keys), sort=False, dropna=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(frame))).groupby(codes).first().to_numpy()
    return codes, frame.iloc[first][list(keys)].reset_index(drop=True)
