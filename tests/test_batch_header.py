"""Batch headers that once broke the doors: input columns named like an output column (a batch's own
output fed back in), bytes that are not UTF-8 in the header or in passed-through cells, too many
columns. Every door (command line, API, upload page, Parquet, Dask) answers the same."""

import base64
import csv
import io
import re
import time

import pyarrow.parquet as pq
import pytest

from estimator.batch.cluster import estimate_with_dask
from estimator.batch.files import estimate_file
from estimator.batch.stream import MAX_COLUMNS, passthrough_names
from estimator.cli import main as cli_main
from estimator.core.glossary import BATCH_COLUMNS

from .conftest import TEST_SCHEDULES, TODAY, upload_form

ROWS = b"11111,plan,2025-06-01,mine\n22222,plan,2025-06-01,\n"


def doors(app, body, tmp_path):
    """The output of the command line, the API and the upload page for ``body``: (status, bytes) each."""
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_bytes(body)
    code = cli_main(["batch", str(source), "-o", str(target), "-q", "--fee-schedules", str(TEST_SCHEDULES)])
    client = app.test_client()
    api = client.post("/api/v1/estimates/batch", data=body, content_type="text/csv")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/batch").get_data(as_text=True)).group(1)
    form, content_type = upload_form({"csrf_token": token}, body)
    page = client.post("/batch", data=form, content_type=content_type)
    link = re.search(r'href="data:text/csv;base64,([^"]+)"', page.get_data(as_text=True))
    return {
        "cli": (code, target.read_bytes() if target.exists() else b""),
        "api": (api.status_code, api.get_data()),
        "page": (page.status_code, base64.b64decode(link.group(1)) if link else page.get_data()),
    }


@pytest.mark.parametrize("name", BATCH_COLUMNS)
def test_an_input_column_named_like_an_output_column_is_kept_renamed(small_app, tmp_path, name):
    body = f"cpt_code,payer_id,date_of_service,{name}\n".encode() + ROWS
    answers = doors(small_app, body, tmp_path)
    assert answers["cli"][0] == 0 and answers["api"][0] == 200 and answers["page"][0] == 200
    out = answers["cli"][1]
    assert answers["api"][1] == out and answers["page"][1] == out
    rows = list(csv.reader(io.StringIO(out.decode())))
    assert rows[0] == ["cpt_code", "payer_id", "date_of_service", f"input_{name}", *BATCH_COLUMNS]
    assert [r[3] for r in rows[1:]] == ["mine", ""]  # the input's cells, untouched
    assert rows[1][4 + BATCH_COLUMNS.index("allowed_expected")] == "70.00"
    assert rows[2][-1] == "cpt_code: Unknown procedure code '22222'." or rows[2][-1] == ""


def test_an_output_fed_back_in_keeps_every_column_and_estimates_again(small_app, tmp_path):
    first = doors(small_app, b"cpt_code,payer_id,date_of_service,note\n" + ROWS, tmp_path)["cli"][1]
    second = doors(small_app, first, tmp_path)["cli"][1]
    rows = list(csv.reader(io.StringIO(second.decode())))
    assert rows[0] == [
        "cpt_code",
        "payer_id",
        "date_of_service",
        "note",
        *(f"input_{c}" for c in BATCH_COLUMNS),
        *BATCH_COLUMNS,
    ]
    width = len(BATCH_COLUMNS)
    for row in rows[1:]:
        assert row[4 : 4 + width] == row[4 + width :]  # the same estimate, twice


def test_renaming_prefixes_until_the_name_is_free():
    names = ["cpt_code", "payer_id", "error", "input_error", "warnings"]
    assert passthrough_names(names) == ["cpt_code", "payer_id", "input_input_error", "input_error", "input_warnings"]


def test_bytes_that_are_not_utf8_in_the_header_and_cells_come_out_as_replacement_characters(small_app, tmp_path):
    body = b"cpt_code,payer_id,date_of_service,n\xe9\xff\n11111,plan,2025-06-01,caf\xe9\n11111,pl\xe9n,2025-06-01,x\n"
    answers = doors(small_app, body, tmp_path)
    assert {door: status for door, (status, _) in answers.items()} == {"cli": 0, "api": 200, "page": 200}
    out = answers["cli"][1]
    assert answers["api"][1] == out and answers["page"][1] == out
    text = out.decode("utf-8")  # valid UTF-8: strict decoding would raise otherwise
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][3] == "n\ufffd\ufffd"
    assert rows[1][3] == "caf\ufffd" and rows[1][-1] == ""
    assert rows[2][-1] == "payer_id: not valid UTF-8 text"


def test_parquet_and_dask_doors_agree_on_renamed_columns_and_bad_bytes(small, tmp_path):
    body = b"cpt_code,payer_id,date_of_service,error,n\xe9\n11111,plan,2025-06-01,x,caf\xe9\n"
    source = tmp_path / "in.csv"
    source.write_bytes(body)
    csv_out = tmp_path / "out.csv"
    estimate_file(source, csv_out, small, TODAY)
    parquet = tmp_path / "out.parquet"
    estimate_file(source, parquet, small, TODAY)
    table = pq.read_table(parquet)
    assert table.column_names[:5] == ["cpt_code", "payer_id", "date_of_service", "input_error", "n\ufffd"]
    assert table.column("n\ufffd").to_pylist() == ["caf\ufffd"]
    back = tmp_path / "back.csv"
    estimate_file(parquet, back, small, TODAY)  # the Parquet output fed back in
    assert next(csv.reader(io.StringIO(back.read_text())))[:6] == [
        "cpt_code",
        "payer_id",
        "date_of_service",
        "input_error",
        "n\ufffd",
        "input_allowed_low",
    ]
    clean = tmp_path / "clean.csv"
    clean.write_bytes(body.replace(b"\xe9", b"e"))
    dask_out, single = tmp_path / "dask.csv", tmp_path / "single.csv"
    estimate_with_dask(clean, dask_out, small, TODAY)
    estimate_file(clean, single, small, TODAY)
    assert dask_out.read_bytes() == single.read_bytes()
    assert b"input_error" in single.read_bytes().splitlines()[0]


@pytest.mark.parametrize("columns", [MAX_COLUMNS + 1, 100_000])
def test_a_header_with_too_many_columns_is_refused_quickly_by_every_door(small_app, tmp_path, columns):
    header = ",".join(["cpt_code", "payer_id", *(f"c{i}" for i in range(columns - 2))]).encode()
    started = time.perf_counter()
    answers = doors(small_app, header + b"\n11111,plan\n", tmp_path)
    assert time.perf_counter() - started < 30  # it once took minutes; the bound only catches a hang
    assert answers["cli"][0] == 2
    assert answers["api"][0] == 422 and b"at most 1,000" in answers["api"][1]
    assert answers["page"][0] == 422 and b"at most 1,000" in answers["page"][1]


def test_a_header_of_many_repeated_names_is_checked_in_linear_time(small_app, tmp_path):
    header = ",".join(["cpt_code", "payer_id", *(["x"] * (MAX_COLUMNS - 2))]).encode()
    answers = doors(small_app, header + b"\n", tmp_path)
    assert answers["api"][0] == 422 and b"names x more than once" in answers["api"][1]
