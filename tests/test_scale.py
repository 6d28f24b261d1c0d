"""Parquet in and out, and the Dask engine: the same estimates as the single-machine CSV path."""

import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from estimator.batch.cluster import estimate_with_dask
from estimator.batch.files import estimate_file
from estimator.batch.stream import MONEY_COLUMNS

from .conftest import DATA, TEST_SCHEDULES, TODAY

GOLDEN_IN = DATA / "batch_input.csv"
GOLDEN_OUT = DATA / "batch_expected.csv"
FIGURES = list(MONEY_COLUMNS)


def golden():
    return pd.read_csv(GOLDEN_OUT, dtype=str, keep_default_na=False)


def test_csv_to_parquet_keeps_rows_and_figures(small, tmp_path):
    target = tmp_path / "out.parquet"
    summary = estimate_file(GOLDEN_IN, target, small, TODAY, chunk_rows=5)
    assert summary["rows"] == 12 and summary["failed"] == 4
    table = pq.read_table(target)
    assert table.schema.field("allowed_expected").type == pa.float64()
    out = table.to_pandas()
    expected = golden()
    assert out["row_id"].tolist() == expected["row_id"].tolist()
    for column in FIGURES:
        shown = [f"{v:.2f}" if v == v else "" for v in out[column]]
        assert shown == expected[column].tolist(), column
    assert out["error"].tolist() == expected["error"].tolist()


def test_parquet_to_csv_is_identical_to_the_csv_path(small, tmp_path):
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pandas(pd.read_csv(GOLDEN_IN, dtype=str, keep_default_na=False)), source)
    target = tmp_path / "out.csv"
    estimate_file(source, target, small, TODAY, chunk_rows=4)
    assert target.read_bytes() == GOLDEN_OUT.read_bytes()


def test_typed_parquet_columns_are_read_as_their_text(small, tmp_path):
    frame = pd.DataFrame(
        {
            "cpt_code": ["11111", "11111"],
            "payer_id": ["plan", "plan"],
            "units": [3, 1],
            "deductible_met": [100.0, None],
            "date_of_service": pd.to_datetime(["2025-06-01"] * 2).date,
        }
    )
    source = tmp_path / "typed.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source)
    target = tmp_path / "out.parquet"
    estimate_file(source, target, small, TODAY)
    out = pq.read_table(target).to_pandas()
    assert out["units"].tolist() == [3, 1]  # passed through with its type
    # 3 x 70 = 210 with the deductible met: 10 copay + 20 % of 210; then 70 with the whole deductible due
    assert out["patient_expected"].tolist() == [52.0, 70.0]


def test_parquet_without_required_columns_fails_as_a_whole(small, tmp_path):
    source = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"a": [1]}), source)
    from estimator.core.errors import InputFileError

    with pytest.raises(InputFileError, match="no cpt_code and no payer_id"):
        estimate_file(source, tmp_path / "out.csv", small, TODAY)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    yield cluster.scheduler_address
    cluster.close()


def test_dask_output_is_byte_identical_on_a_local_cluster(small, tmp_path, dask_client):
    target = tmp_path / "out.csv"
    estimate_with_dask(GOLDEN_IN, target, small, TODAY, scheduler=dask_client, blocksize=400)  # several partitions
    assert target.read_bytes() == GOLDEN_OUT.read_bytes()


def test_dask_reads_a_directory_of_files(small, tmp_path, dask_client):
    lines = GOLDEN_IN.read_text().splitlines()
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.csv").write_text("\n".join(lines[:7]) + "\n")
    (folder / "b.csv").write_text("\n".join([lines[0], *lines[7:]]) + "\n")
    target = tmp_path / "out.csv"
    estimate_with_dask(folder, target, small, TODAY, scheduler=dask_client)
    assert target.read_bytes() == GOLDEN_OUT.read_bytes()


def test_command_line_parquet_and_dask(tmp_path):
    parquet = tmp_path / "out.parquet"
    run = [sys.executable, "-m", "estimator", "batch", "--fee-schedules", str(TEST_SCHEDULES), "-q"]
    assert subprocess.run([*run, str(GOLDEN_IN), "-o", str(parquet)]).returncode == 0
    assert len(pq.read_table(parquet)) == 12
    csv_out = tmp_path / "dask.csv"
    done = subprocess.run([*run, "--engine", "dask", str(GOLDEN_IN), "-o", str(csv_out)], capture_output=True)
    assert done.returncode == 0, done.stderr
    assert csv_out.read_bytes() == GOLDEN_OUT.read_bytes()


def test_dask_keeps_encounters_that_straddle_partitions_whole(shipped, tmp_path, dask_client):
    from .test_encounter_doors import ADJACENT

    source = tmp_path / "encounters.csv"
    source.write_text(ADJACENT)
    single = tmp_path / "single.csv"
    estimate_file(source, single, shipped, TODAY, chunk_rows=1000)
    for blocksize in (120, 200, 333):  # partitions of two to five rows: encounters straddle them
        target = tmp_path / f"dask-{blocksize}.csv"
        estimate_with_dask(source, target, shipped, TODAY, scheduler=dask_client, blocksize=blocksize)
        assert target.read_bytes() == single.read_bytes(), blocksize


@pytest.mark.slow
def test_the_command_line_on_a_real_dask_cluster_of_a_scheduler_and_two_workers(tmp_path):
    """`dask scheduler` and two `dask worker` processes on loopback, as on a cluster of machines: the
    batch command with --scheduler gives the pandas engine's output byte for byte."""
    import os
    import socket
    import time
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).parent / "dask")
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}  # the workers import the project, as on any machine of it
    logs = tmp_path / "cluster.log"
    with open(logs, "wb") as log:
        processes = [
            subprocess.Popen(
                [
                    dask,
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--dashboard-address",
                    ":0",
                    "--no-show",
                ],
                stdout=log,
                stderr=log,
                env=env,
            )
        ]
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.3)
            for _ in range(2):
                processes.append(
                    subprocess.Popen(
                        [
                            dask,
                            "worker",
                            address,
                            "--nthreads",
                            "1",
                            "--host",
                            "127.0.0.1",
                            "--dashboard-address",
                            ":0",
                            "--no-nanny",
                        ],
                        stdout=log,
                        stderr=log,
                        env=env,
                    )
                )
            run = [
                sys.executable,
                "-m",
                "estimator",
                "batch",
                "--fee-schedules",
                str(TEST_SCHEDULES),
                "-q",
                "--today",
                TODAY.isoformat(),
            ]
            on_cluster = tmp_path / "cluster.csv"
            done = subprocess.run(
                [*run, "--engine", "dask", "--scheduler", address, str(GOLDEN_IN), "-o", str(on_cluster)],
                capture_output=True,
                cwd=root,
                env=env,
                timeout=300,
            )
            assert done.returncode == 0, done.stderr.decode() + logs.read_text(errors="replace")[-2000:]
            single = tmp_path / "single.csv"
            assert subprocess.run([*run, str(GOLDEN_IN), "-o", str(single)], cwd=root).returncode == 0
            assert on_cluster.read_bytes() == single.read_bytes() == GOLDEN_OUT.read_bytes()
        finally:
            for process in reversed(processes):  # the workers first, while their scheduler still answers
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:  # a worker may linger on its way out: it has done its work
                    process.kill()
                    process.wait(timeout=20)
