"""Scale-out over partitions with Dask: the same chunk function as the single-machine paths, on a local
cluster or a running scheduler, for a directory of files or inputs larger than one machine should hold.
"""

import contextlib
import datetime as dt
import os
import secrets
import shutil
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..core.errors import InputFileError
from ..core.glossary import ENCOUNTER_ID, REQUIRED_FIELDS
from ..core.schedules import load_schedules
from .files import PARQUET_SUFFIXES, check_paths, is_parquet
from .stream import FACTOR_OUTPUT, MONEY_OUTPUT, added_columns, csv_cells, csv_header, estimate_rows, passthrough_names


@lru_cache(maxsize=4)
def _worker_schedules(directory):
    """Fee schedules loaded once per worker process."""
    return load_schedules(directory)


def _estimate_partition(frame, directory, today, header, output):
    """One Dask partition through the same chunk function as the single-machine path."""
    raw = frame.astype(object).where(frame.notna(), "")
    raw.columns = header
    table, *_ = estimate_rows(raw.reset_index(drop=True), _worker_schedules(directory), dt.date.fromisoformat(today))
    if output == "csv":
        cells = csv_cells(table, len(header))
        return pd.DataFrame({i: pd.Series(c, dtype=object) for i, c in enumerate(cells)})
    return table


def _ids(part, column):
    return part[column].fillna("").astype(str).str.strip().to_numpy(object)


def _leading(ids, value):
    differ = (ids != value).nonzero()[0]
    return int(differ[0]) if len(differ) else len(ids)


def _stitch(previous, current, following, column):
    """A partition regrouped at encounter bounds: without its leading rows that continue the previous
    partition's last encounter, with the next partition's leading rows that continue its own."""
    drop = take = 0
    if previous is not None and len(previous) and len(current):
        last = _ids(previous, column)[-1]
        drop = _leading(_ids(current, column), last) if last else 0
    if following is not None and len(following) and len(current) > drop:
        last = _ids(current, column)[-1]
        take = _leading(_ids(following, column), last) if last else 0
    return pd.concat([current.iloc[drop:], following.iloc[:take]]) if take else current.iloc[drop:]


def _regrouped(frame, column):
    """The frame's partitions regrouped so that an encounter that straddles two is estimated whole, by
    the first. Each new partition reads its neighbours' (computed once in the graph, not read again)."""
    import dask.dataframe as dd
    from dask import delayed

    parts = frame.to_delayed()
    stitch = delayed(_stitch)
    count = len(parts)
    regrouped = [
        stitch(parts[i - 1] if i else None, parts[i], parts[i + 1] if i + 1 < count else None, column)
        for i in range(count)
    ]
    return dd.from_delayed(regrouped, meta=frame._meta, verify_meta=False)


def dask_inputs(source):
    """The file pattern Dask reads: a file, or every CSV or Parquet file of a directory."""
    path = Path(source)
    if path.is_dir():
        for suffix in (".csv", *PARQUET_SUFFIXES):
            if sorted(path.glob(f"*{suffix}")):
                return str(path / f"*{suffix}"), suffix != ".csv"
        raise InputFileError(f"{source} holds no .csv or .parquet files")
    return str(path), is_parquet(path)


@contextlib.contextmanager
def staged(target):
    """A path beside ``target`` to write to; renamed over ``target`` when the block ends without error, else
    removed (a Parquet output is a folder of parts: the old folder goes once the new one is in place)."""
    target = Path(os.path.realpath(target))
    stage = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        yield str(stage)
        if stage.is_dir() and target.is_dir():
            old = target.with_name(f".{target.name}.{secrets.token_hex(4)}.old")
            os.replace(target, old)
            os.replace(stage, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, target)
    finally:
        if stage.is_dir():
            shutil.rmtree(stage, ignore_errors=True)
        elif stage.exists():
            stage.unlink()


def estimate_with_dask(source, target, schedules, today=None, scheduler=None, blocksize="16MB"):
    """Estimate ``source`` (a file or a directory of files) into ``target`` on a Dask cluster.

    A local cluster by default, or the running scheduler at ``scheduler``. The output is one file, in
    input order, identical to the single-machine path's (for well-formed CSV: rows Dask's CSV reader
    cannot parse fail the run rather than being reported in their row). An encounter that straddles two
    partitions is estimated whole by the first (partitions of more than 20 rows, as they always are
    but in tests); an ``encounter_id`` that comes back is refused only within one partition.
    """
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    today = (today or dt.date.today()).isoformat()
    check_paths(source, target)
    pattern, parquet = dask_inputs(source)
    if parquet:
        frame = dd.read_parquet(pattern)
    else:
        frame = dd.read_csv(pattern, dtype=str, keep_default_na=False, blocksize=blocksize)
    names = [h.strip() for h in frame.columns]
    missing = [f for f in REQUIRED_FIELDS if f not in names]
    if missing:
        raise InputFileError(f"the file has no {' and no '.join(missing)} column")
    if ENCOUNTER_ID in names:
        frame = _regrouped(frame, frame.columns[names.index(ENCOUNTER_ID)])
    added = added_columns(names)
    renamed = passthrough_names(names)
    header = [h if n == r else r for h, n, r in zip(frame.columns, names, renamed, strict=True)]
    names = renamed
    output = "parquet" if is_parquet(target) else "csv"
    if output == "csv":
        meta = pd.DataFrame({i: pd.Series(dtype=object) for i in range(len(header) + len(added))})
    else:
        floats = MONEY_OUTPUT | FACTOR_OUTPUT
        meta = pd.DataFrame(
            {
                **{n: pd.Series(dtype=object) for n in names},
                **{c: pd.Series(dtype="float64" if c in floats else object) for c in added},
            }
        )
    estimated = frame.map_partitions(_estimate_partition, schedules.directory, today, names, output, meta=meta)

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(processes=True, threads_per_worker=1, dashboard_address=None)
        client = Client(cluster)
    try:
        with staged(target) as stage:  # written beside the target, renamed into place when complete
            if output == "csv":
                estimated = estimated.rename(columns=dict(enumerate(csv_header(header))))
                estimated.to_csv(
                    stage, single_file=True, index=False, lineterminator="\n", encoding="utf-8", errors="replace"
                )
            else:
                estimated.to_parquet(stage, write_index=False)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
