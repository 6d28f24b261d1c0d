"""Encounters through every door: the JSON API, the batch paths (command line, API, upload page,
Parquet), chunk by chunk; they give the same figures as the core."""

import csv
import io
import re

import pytest

from estimator.batch.files import estimate_file
from estimator.batch.stream import estimate_csv
from estimator.core.glossary import BATCH_COLUMNS, ENCOUNTER_COLUMNS
from estimator.core.service import estimate_encounter

from .conftest import DATA, TODAY, upload_form

ENCOUNTERS = "/api/v1/encounters"
MANHATTAN = {
    "payer_id": "medicare",
    "zip": "10001",
    "date_of_service": "2025-05-01",
    "lines": [{"cpt_code": "64483"}, {"cpt_code": "64484"}],
}


def test_a_two_level_transforaminal_in_manhattan_worked_by_hand(client):
    answer = client.post(ENCOUNTERS, json=MANHATTAN).get_json()
    first, second = answer["lines"]
    # 64483: (1.9 x 1.065 + 5.24 x 1.166 + 0.16 x 1.656) x 32.3465 = 271.6556 -> 271.66; the 2025
    # deductible 257 + 20 % of 14.6556 = 259.93; the plan 271.66 - 259.93 = 11.73
    assert (first["allowed_amount"]["expected"], first["patient_responsibility"]["expected"]) == (271.66, 259.93)
    assert first["payer_responsibility"]["expected"] == 11.73
    # 64484 (add-on, never reduced): (1 x 1.065 + 2.2 x 1.166 + 0.08 x 1.656) x 32.3465 = 121.7095 -> 121.71;
    # the deductible is spent, so 20 % = 24.34; the plan 97.37
    assert (second["allowed_amount"]["expected"], second["patient_responsibility"]["expected"]) == (121.71, 24.34)
    assert second["reduction_factor"] == 1.0 and second["payer_responsibility"]["expected"] == 97.37
    assert answer["allowed_amount"]["expected"] == 393.37
    assert answer["patient_responsibility"]["expected"] == 284.27
    assert answer["payer_responsibility"]["expected"] == 109.10
    assert answer["prior_authorization"]["status"] == "not_required"


def test_a_two_level_facet_series_is_reduced_after_the_first_procedure(client):
    body = {**MANHATTAN, "lines": [{"cpt_code": "64493"}, {"cpt_code": "64494"}, {"cpt_code": "64490"}]}
    answer = client.post(ENCOUNTERS, json=body).get_json()
    factors = [line["reduction_factor"] for line in answer["lines"]]
    # 64490 (5.76 RVUs) pays more than 64493 (5.33): it keeps 100 % and 64493 is halved; 64494 is an add-on
    assert factors == [0.5, 1.0, 1.0]
    fees = [line["allowed_amount"]["expected"] for line in answer["lines"]]
    # (1.52 x 1.065 + 3.64 x 1.166 + 0.16 x 1.656) x 32.3465 = 198.2223, halved = 99.11
    assert fees[0] == 99.11


def test_the_openapi_document_has_the_three_examples(client):
    spec = client.get("/api/openapi.json").get_json()
    body = spec["paths"]["/api/v1/encounters"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["examples"]) == {"two-level transforaminal", "facet series", "self-pay visit"}
    for example in body["examples"].values():
        assert client.post(ENCOUNTERS, json=example["value"]).status_code == 200


def test_a_self_pay_visit_is_a_good_faith_estimate(client):
    body = {
        "payer_id": "self_pay",
        "date_of_service": "2025-10-01",
        "lines": [{"cpt_code": "99213"}, {"cpt_code": "64635"}],
    }
    answer = client.post(ENCOUNTERS, json=body).get_json()
    assert answer["good_faith_estimate"] is True and "$400 or more" in answer["good_faith_notice"]
    assert answer["prior_authorization"]["status"] == "not_applicable"
    assert answer["patient_responsibility"] == answer["allowed_amount"]


def test_the_api_door_is_the_core(app, client):
    store = app.extensions["schedule_store"].current()
    assert client.post(ENCOUNTERS, json=MANHATTAN).get_json() == estimate_encounter(MANHATTAN, store)


# Batch ----------------------------------------------------------------------------------------------

BATCH = (
    "claim,encounter_id,cpt_code,payer_id,zip,date_of_service,modifiers,units\n"
    "1,V1,64483,medicare,10001,2025-05-01,,\n"
    "2,V1,64484,medicare,10001,2025-05-01,,\n"
    "3,,64483,medicare,10001,2025-05-01,,\n"
    "4,V2,64493,medicare,10001,2025-05-01,,\n"
    "5,V2,64494,medicare,10001,2025-05-01,,\n"
    "6,V2,64490,medicare,10001,2025-05-01,,\n"
    "7,V3,64635,medicare,10001,2025-05-01,,\n"
    "8,V3,64635,medicare,35203,2025-05-01,,\n"
    "9,V4,99999,medicare,10001,2025-05-01,,\n"
    "10,V4,64483,medicare,10001,2025-05-01,,\n"
    "11,V5,64483,medicare,10001,2025-05-01,,\n"
    "12,V6,64483,medicare,10001,2025-05-01,,\n"
    "13,V5,64484,medicare,10001,2025-05-01,,\n"
)


ADJACENT = "".join(BATCH.splitlines(keepends=True)[:11])  # without the id that comes back


def run_batch(shipped, text, chunk_rows):
    out = io.BytesIO()
    estimate_csv(io.BytesIO(text.encode()), out, shipped, TODAY, chunk_rows)
    return list(csv.DictReader(io.StringIO(out.getvalue().decode())))


def test_batch_encounters_match_the_api_and_carry_four_more_columns(shipped, client):
    rows = run_batch(shipped, BATCH, 1000)
    assert list(rows[0])[-len(BATCH_COLUMNS) - len(ENCOUNTER_COLUMNS) :] == [*BATCH_COLUMNS, *ENCOUNTER_COLUMNS]
    api = client.post(ENCOUNTERS, json=MANHATTAN).get_json()
    assert [r["allowed_expected"] for r in rows[:2]] == ["271.66", "121.71"]
    assert [r["patient_expected"] for r in rows[:2]] == ["259.93", "24.34"]
    assert rows[0]["encounter_allowed_expected"] == rows[1]["encounter_allowed_expected"] == "393.37"
    assert rows[0]["encounter_patient_expected"] == f"{api['patient_responsibility']['expected']:.2f}"
    assert rows[2]["reduction_factor"] == "1" and rows[2]["encounter_allowed_expected"] == "271.66"
    assert [r["reduction_factor"] for r in rows[3:6]] == ["0.5", "1", "1"]


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        (["7", "8"], "The rows of one encounter must agree on zip."),
        (["10"], "Another line of this encounter is invalid"),
        (["9"], "Unknown procedure code '99999'"),
    ],
)
def test_a_bad_encounter_fails_in_every_row(shipped, claims, message):
    rows = {r["claim"]: r for r in run_batch(shipped, BATCH, 1000)}
    for claim in claims:
        assert message in rows[claim]["error"], rows[claim]["error"]
        assert rows[claim]["allowed_expected"] == "" and rows[claim]["encounter_prior_auth"] == ""


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 4, 5, 7])
def test_encounters_that_straddle_chunks_are_estimated_whole_and_once(shipped, chunk_rows):
    assert run_batch(shipped, ADJACENT, chunk_rows) == run_batch(shipped, ADJACENT, 1000)


def test_an_id_that_comes_back_is_refused_in_both_places_within_a_chunk(shipped):
    rows = {r["claim"]: r for r in run_batch(shipped, BATCH, 1000)}
    assert "'V5' appears again" in rows["11"]["error"] and "'V5' appears again" in rows["13"]["error"]


def test_an_id_that_comes_back_is_refused_within_a_chunk_even_when_every_run_is_one_row(shipped):
    text = (
        BATCH.split("\n", 1)[0] + "\n" + "".join(f"{i},V{i % 3},64483,medicare,10001,2025-05-01,,\n" for i in range(6))
    )
    rows = run_batch(shipped, text, 1000)
    assert all(f"'V{i % 3}' appears again after another id" in r["error"] for i, r in enumerate(rows))


def test_an_id_that_comes_back_in_a_later_chunk_is_refused_there(shipped):
    text = (
        BATCH.split("\n", 1)[0] + "\n" + "".join(f"{i},V{i % 3},64483,medicare,10001,2025-05-01,,\n" for i in range(9))
    )
    rows = run_batch(shipped, text, 2)
    assert rows[0]["error"] == "" and rows[1]["error"] == "" and rows[2]["error"] == ""
    assert all("appears again after another id" in r["error"] for r in rows[3:])


def test_an_over_long_encounter_is_refused_across_chunks(shipped):
    text = BATCH.split("\n", 1)[0] + "\n" + "".join(f"{i},LONG,64484,medicare,10001,2025-05-01,,\n" for i in range(25))
    text += "25,SHORT,64483,medicare,10001,2025-05-01,,\n"
    for chunk_rows in (3, 10, 24, 1000):
        rows = run_batch(shipped, text, chunk_rows)
        assert all(r["error"] == "encounter_id: An encounter has at most 20 lines." for r in rows[:25]), chunk_rows
        assert rows[25]["error"] == ""


def test_every_batch_door_gives_the_same_encounter_output(shipped, client, tmp_path):
    from estimator.cli import main as cli_main

    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text(ADJACENT)
    assert cli_main(["batch", str(source), "-o", str(target), "-q", "--chunk-rows", "2"]) == 0
    cli_out = target.read_bytes()
    api = client.post("/api/v1/estimates/batch", data=ADJACENT.encode(), content_type="text/csv").get_data()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/batch").get_data(as_text=True)).group(1)
    form, content_type = upload_form({"csrf_token": token}, ADJACENT.encode())
    page = client.post("/batch", data=form, content_type=content_type).get_data(as_text=True)
    import base64

    link = base64.b64decode(re.search(r'href="data:text/csv;base64,([^"]+)"', page).group(1))
    assert api == cli_out == link
    parquet = tmp_path / "out.parquet"
    estimate_file(source, parquet, shipped, chunk_rows=3)
    back = tmp_path / "back.csv"
    import pyarrow.parquet as pq

    table = pq.read_table(parquet)
    assert table.column("encounter_allowed_expected").to_pylist()[:2] == [393.37, 393.37]
    assert table.column("reduction_factor").to_pylist()[3] == 0.5
    del back
    assert DATA.exists()
