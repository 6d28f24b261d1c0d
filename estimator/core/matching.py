"""Pick, for each case, the most specific schedule row in effect (SPEC section 4, steps 1 and 9).

A :class:`RowIndex` is built once per schedule table at load: for each pattern of exact and ``*``
fields that occurs in the table, a hash map from the exact values to the rows. A lookup then costs a
few hash probes per *distinct* case (requests repeat payers, codes, settings and regions), whatever the
number of rows.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class _Pattern:
    exact: tuple  # positions of the fields matched exactly
    score: int
    rows: dict  # tuple of exact values -> tuple of row positions


class RowIndex:
    """Most-specific-row lookup over one schedule table.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows with the ``fields`` columns (``*`` = any) and ``effective_from``, ``effective_to`` (day
        numbers, inclusive).
    fields : list of str
        Columns matched exactly or by ``*``.
    weights : list of int
        Score of an exact match in each field; the highest total wins. Powers of two give a strict
        preference order; equal weights give "most exact fields wins". Validated schedules have no ties.
    needs : list of numpy.ndarray of bool, optional
        Per requirement, the rows that apply only to a case that meets it (for example a ``*``-code rate
        on the ``rvu`` basis applies only to a code with RVUs); a lookup says which its case meets.
    carry_forward : bool, default False
        When no row is in effect on the day, take the matching rows that ended before it (SPEC section 4,
        step 2): of those that ended last, the most specific.
    """

    def __init__(self, table, fields, weights, needs=(), carry_forward=False):
        self.fields = list(fields)
        self.starts = table["effective_from"].to_numpy("int64").tolist()
        self.ends = table["effective_to"].to_numpy("int64").tolist()
        self.needs = [np.asarray(need, dtype=bool).tolist() for need in needs]
        self.carry_forward = carry_forward
        values = [table[f].to_numpy(object) for f in self.fields]
        star = np.column_stack([v == "*" for v in values]) if len(table) else np.zeros((0, len(fields)), bool)
        bits = star @ (1 << np.arange(len(fields))) if len(table) else np.zeros(0, dtype=int)
        patterns = []
        for p in np.unique(bits):
            exact = tuple(i for i in range(len(fields)) if not (p >> i) & 1)
            score = sum(weights[i] for i in exact)
            positions = np.flatnonzero(bits == p)
            keys = pd.Series(list(zip(*(values[i][positions] for i in exact), strict=True)), dtype=object)
            groups = pd.Series(positions).groupby(keys.to_numpy(), sort=False).agg(list)
            patterns.append(_Pattern(exact, score, {k: tuple(int(r) for r in v) for k, v in groups.items()}))
        self.patterns = sorted(patterns, key=lambda pattern: -pattern.score)
        #: Per field, the values some row names exactly; any other case value matches only ``*``.
        self.named = [frozenset(v[v != "*"].tolist()) for v in values]
        #: Answers of :meth:`find`, keyed by all of its arguments (the table never changes once loaded).
        self._found = {}

    def canonical(self, cases):
        """Cases with every value no row names exactly replaced by ``""`` (it matches the same rows).

        This folds, say, a hundred regions that no rate row names into one case, so a batch has few
        distinct cases to look up.
        """
        out = []
        for values, named in zip(cases, self.named, strict=True):
            if len(values) <= SMALL:
                out.append(np.array([v if v in named else "" for v in values], dtype=object))
                continue
            codes, uniques = factorize(values)
            kept = np.array([u if u in named else "" for u in uniques] or [""], dtype=object)
            out.append(kept[codes] if len(codes) else values)
        return out

    def find(self, case, day, meets=()):
        """The row for one case: ``(position, carried)``, or ``(-1, False)`` when there is none.

        Parameters
        ----------
        case : sequence of str
            One value per field (in ``fields`` order); ``""`` (for example no region) matches only ``*``.
        day : int
            The day number the row must be in effect on.
        meets : tuple of bool
            Per requirement of ``needs``, whether the case meets it.

        Returns
        -------
        (int, bool)
            The most specific row in effect on ``day`` (``carried`` False); else, with ``carry_forward``,
            of the matching rows that ended before ``day``, those that ended last, the most specific
            of them (``carried`` True).
        """
        key = (case, day, meets)
        found = self._found.get(key)
        if found is None:
            folded = tuple([value if value in named else "" for value, named in zip(case, self.named, strict=True)])
            folded_key = (folded, day, meets)
            found = self._found.get(folded_key)
            if found is None:
                found = self._search(folded, day, meets)
            if len(self._found) >= MAX_KEPT:  # cases are many (every region and code): keep a bounded number
                self._found.clear()
            self._found[key] = self._found[folded_key] = found
        return found

    def forget(self):
        """Drop the answers kept (a lookup then costs what the first one did)."""
        self._found.clear()

    def _search(self, case, day, meets):
        starts, ends, needs = self.starts, self.ends, self.needs
        latest, latest_end = -1, None
        for pattern in self.patterns:
            rows = pattern.rows.get(tuple(case[f] for f in pattern.exact))
            if rows is None:
                continue
            for row in rows:
                if not all(met or not need[row] for need, met in zip(needs, meets, strict=True)):
                    continue
                if starts[row] <= day <= ends[row]:
                    return row, False
                if ends[row] < day and (latest_end is None or ends[row] > latest_end):
                    latest, latest_end = row, ends[row]
        if self.carry_forward and latest >= 0:
            return latest, True
        return -1, False

    def lookup(self, cases, days, meets=None):
        """:meth:`find` for many cases: (positions, carried) arrays.

        ``cases`` is one array per field, ``days`` one day per case, ``meets`` (optional) one boolean
        array per requirement.
        """
        n = len(days)
        columns = [list(c) for c in cases]
        met = [list(m) for m in meets] if meets is not None else []
        chosen = np.full(n, -1, dtype="int64")
        carried = np.zeros(n, dtype=bool)
        for i in range(n):  # one pass per distinct case, not per request
            chosen[i], carried[i] = self.find(
                tuple(column[i] for column in columns), int(days[i]), tuple(bool(m[i]) for m in met)
            )
        return chosen, carried


#: Most answers a :class:`RowIndex` keeps (each a few hundred bytes).
MAX_KEPT = 100_000

#: Below this many values, hashing in Python beats pandas' per-call overhead (single estimates).
SMALL = 64


def factorize(values):
    """(codes, list of distinct values) of a 1-d array, Series or list: in order of first appearance, or a
    categorical column's own codes and categories (a batch reads its text columns so, already encoded)."""
    coded = categorical_codes(values)
    if coded is not None:
        return coded
    if not isinstance(values, np.ndarray):  # a Series or a list of text cells
        values = np.asarray(values, dtype=object)
    if len(values) <= SMALL:
        seen = {}
        codes = np.array([seen.setdefault(v, len(seen)) for v in values], dtype="int64")
        return codes, list(seen)
    codes, uniques = pd.factorize(values)
    return codes.astype("int64"), list(uniques)


def categorical_codes(values):
    """(codes, categories as a list) of a pandas categorical column or array, else ``None``.

    Categories are the distinct values a column may hold: some may be unused (after a slice).
    """
    if not isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        return None
    categorical = values.array if isinstance(values, pd.Series) else values
    return np.asarray(categorical.codes, dtype="int64"), categorical.categories.tolist()


def distinct(*columns):
    """Group rows by the values of ``columns``: (per-row group id, first row of each group).

    Vectorised: each column is factorised once, the codes are combined into one integer key.
    """
    n = len(columns[0])
    if n == 0:
        return np.zeros(0, dtype="int64"), np.zeros(0, dtype="int64")
    if n <= SMALL:
        seen, group, first = {}, [], []
        for i, key in enumerate(zip(*columns, strict=True)):
            index = seen.setdefault(key, len(seen))
            if index == len(first):
                first.append(i)
            group.append(index)
        return np.array(group, dtype="int64"), np.array(first, dtype="int64")
    key = np.zeros(n, dtype="int64")
    for column in columns:
        codes, uniques = pd.factorize(column)
        key = key * (len(uniques) + 1) + codes + 1
        if len(uniques) > 1 and key.max() > 2**52:  # keep the mixed-radix key exact
            key = pd.factorize(key)[0].astype("int64")
    group, _ = pd.factorize(key)
    first = np.full(group.max() + 1, n, dtype="int64")
    np.minimum.at(first, group, np.arange(n))
    return group, first
