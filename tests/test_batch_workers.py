"""Worker processes (``batch --jobs N``) change nothing in a batch's output or summary: the same bytes as
the in-process run, with broken rows, bytes that are not UTF-8 and visits straddling chunks, through the
command line and against the API's in-process batch."""

import datetime as dt
import json
import random
import re

import pytest

from benchmarks.generate_requests import generate
from estimator.cli import main as cli_main
from estimator.core.schedules import DEFAULT_DIRECTORY


def messy_file(path, rows, seed):
    """A generated request file with visits, then broken in places: stray quotes, short and long rows,
    bytes that are not UTF-8, formula-like cells, carriage returns and blank lines."""
    frame = generate(rows, seed, encounters=0.3)
    lines = frame.to_csv(index=False).encode().split(b"\n")
    rng = random.Random(seed)
    for i in range(1, len(lines) - 1):
        roll = rng.random()
        if roll < 0.005:
            lines[i] = lines[i].replace(b",", b',"', 1)
        elif roll < 0.01:
            lines[i] += b",extra"
        elif roll < 0.015:
            lines[i] = lines[i].replace(b"C", b"\xff\xfe", 1)
        elif roll < 0.02:
            lines[i] = b"=1+" + lines[i]
        elif roll < 0.025:
            lines[i] += b"\r"
        elif roll < 0.03:
            lines[i] = b""
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize("chunk_rows", [97, 1000])
def test_workers_write_the_same_bytes_and_counts(tmp_path, chunk_rows):
    source = tmp_path / "in.csv"
    messy_file(source, 6000, seed=chunk_rows)
    outputs = {}
    for jobs in (1, 2, 3):
        target, summary = tmp_path / f"out-{jobs}.csv", tmp_path / f"summary-{jobs}.json"
        args = ["batch", str(source), "-o", str(target), "-q", "--today", "2025-06-01", "--summary", str(summary)]
        assert cli_main([*args, "--chunk-rows", str(chunk_rows), "--jobs", str(jobs)]) == 0
        outputs[jobs] = (target.read_bytes(), json.loads(summary.read_text()))
    assert outputs[1][0].count(b"\n") > 5000
    assert outputs[2] == outputs[1]
    assert outputs[3] == outputs[1]


def test_the_api_batch_agrees_with_workers(tmp_path, records_url):
    from estimator.web.app import create_app

    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    messy_file(source, 3000, seed=5)
    today = dt.date.today().isoformat()
    args = ["batch", str(source), "-o", str(target), "-q", "--chunk-rows", "250", "--jobs", "2", "--today", today]
    assert cli_main(args) == 0
    app = create_app({"TESTING": True, "FEE_SCHEDULES": str(DEFAULT_DIRECTORY), "DATABASE_URL": records_url})
    app.config["BATCH_CHUNK_ROWS"] = 250
    api = app.test_client().post("/api/v1/estimates/batch", data=source.read_bytes(), content_type="text/csv")
    assert api.status_code == 200
    assert api.get_data() == target.read_bytes()


def test_workers_started_without_a_fork_server_write_the_same_bytes(tmp_path, monkeypatch):
    """Where the system has no fork server (Windows, some sandboxes), workers are spawned."""
    import io
    import multiprocessing

    from estimator.batch.stream import estimate_csv
    from estimator.core.schedules import load_schedules

    source = tmp_path / "in.csv"
    messy_file(source, 1500, seed=9)
    schedules = load_schedules(DEFAULT_DIRECTORY)
    today = dt.date(2025, 6, 1)
    alone, spawned = io.BytesIO(), io.BytesIO()
    estimate_csv(io.BytesIO(source.read_bytes()), alone, schedules, today, chunk_rows=300, jobs=1)
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    estimate_csv(io.BytesIO(source.read_bytes()), spawned, schedules, today, chunk_rows=300, jobs=2)
    assert spawned.getvalue() == alone.getvalue()


def test_chunk_size_changes_nothing_on_a_messy_file_with_visits(tmp_path):
    source = tmp_path / "in.csv"
    messy_file(source, 6000, seed=11)
    outputs = {}
    for chunk_rows in (1, 97, 1000, 50_000):
        target = tmp_path / f"out-{chunk_rows}.csv"
        args = ["batch", str(source), "-o", str(target), "-q", "--today", "2025-06-01", "--jobs", "1"]
        assert cli_main([*args, "--chunk-rows", str(chunk_rows)]) == 0
        outputs[chunk_rows] = target.read_bytes()
    # An id that comes back after another is refused in both places within a chunk, and only where it comes
    # back across chunks (README, batches): those encounters' rows aside, every chunk size writes the same.
    reappearing = set(re.findall(rb"encounter_id: '([^']*)' appears again", outputs[50_000]))

    def kept(data):
        return [line for line in data.split(b"\n") if not any(b"," + i + b"," in line for i in reappearing)]

    assert len({tuple(kept(data)) for data in outputs.values()}) == 1
    assert len(kept(outputs[50_000])) > 5000
