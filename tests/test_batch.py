"""Batch CSV estimation (SPEC section 6) through the command line and the library."""

import csv
import io
import subprocess
import sys

import pytest

from estimator.batch.stream import estimate_csv
from estimator.core.errors import InputFileError
from estimator.core.glossary import BATCH_COLUMNS

from .conftest import DATA, TEST_SCHEDULES, TODAY

GOLDEN_IN = DATA / "batch_input.csv"
GOLDEN_OUT = DATA / "batch_expected.csv"


def batch(small, text, chunk_rows=1000):
    out = io.BytesIO()
    summary = estimate_csv(
        io.BytesIO(text if isinstance(text, bytes) else text.encode()), out, small, TODAY, chunk_rows
    )
    return out.getvalue().decode("utf-8", errors="surrogateescape"), summary


def rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_golden_batch_matches_byte_for_byte(small):
    text, summary = batch(small, GOLDEN_IN.read_bytes())
    assert text == GOLDEN_OUT.read_text()
    assert (summary["rows"], summary["estimated"], summary["failed"]) == (12, 8, 4)
    # priced on the national baseline range: rows 6 (self-pay "cash" on it), 10 ("nobb" on it), 11 (payer
    # "bare" has no rates) and 12 (22222's rate of "plan" is 0.5 x the range)
    assert summary["fallbacks"] == 4
    assert summary["prior_auth"] == {"not_applicable": 1, "not_required": 2, "required": 2, "unknown": 3}
    assert summary["errors"]["cpt_code: Unknown procedure code '99999'."] == 1


@pytest.mark.parametrize("chunk_rows", [1, 5])
def test_chunking_does_not_change_the_output(small, chunk_rows):
    assert batch(small, GOLDEN_IN.read_bytes(), chunk_rows)[0] == GOLDEN_OUT.read_text()


def test_golden_figures_checked_by_hand():
    out = {r["row_id"]: r for r in rows(GOLDEN_OUT.read_text())}
    # row 2: (1x1.1 + 2x1.2 + 0.5x0.9) x 20 = 79; deductible met, so 10 copay + 20 % of 79 = 25.80
    assert (out["2"]["allowed_expected"], out["2"]["patient_expected"], out["2"]["payer_expected"]) == (
        "79.00",
        "25.80",
        "53.20",
    )
    # row 3: ASC professional 600 and facility 300, both x geo 0.8 x 2 units = 1440;
    # 100 deductible + 10 copay + 20 % of 1340 = 378
    assert (out["3"]["allowed_expected"], out["3"]["patient_expected"]) == ("1440.00", "378.00")
    # row 12: 10 copay + 20 % coinsurance capped by 500 - 450 = 50
    assert (out["12"]["patient_low"], out["12"]["payer_expected"]) == ("50.00", "700.00")


def test_every_row_once_in_order_with_inputs_first(small):
    text, _ = batch(small, GOLDEN_IN.read_bytes())
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    input_header = GOLDEN_IN.read_text().splitlines()[0].split(",")
    assert header == input_header + list(BATCH_COLUMNS)
    assert [r[0] for r in reader] == [str(i) for i in range(1, 13)]


def test_failed_rows_have_blank_figures_and_a_message(small):
    out = {r["row_id"]: r for r in rows(batch(small, GOLDEN_IN.read_bytes())[0])}
    assert out["4"]["error"] == "cpt_code: Unknown procedure code '99999'."
    assert all(out["4"][c] == "" for c in BATCH_COLUMNS[:-1])
    assert out["9"]["error"].startswith("setting: Must be one of")
    assert "coinsurance:" in out["9"]["error"] and "units:" in out["9"]["error"]


def test_formula_cells_are_neutralised(small):
    out = {r["row_id"]: r for r in rows(batch(small, GOLDEN_IN.read_bytes())[0])}
    assert out["5"]["comment"] == '\'=HYPERLINK("http://example.invalid")'
    assert out["10"]["comment"] == "'-2+3"
    text, _ = batch(small, "cpt_code,payer_id,@note\n11111,plan,+1\n11111,plan,\tx\n")
    assert text.splitlines()[0].startswith("cpt_code,payer_id,'@note")
    assert [r["'@note"] for r in rows(text)] == ["'+1", "'\tx"]


def test_a_row_with_the_wrong_number_of_fields_is_reported_and_the_others_run(small):
    text, summary = batch(small, "id,cpt_code,payer_id\n1,11111,plan\n2,11111\n3,11111,plan,extra\n4,11111,plan\n")
    out = rows(text)
    assert [r["id"] for r in out] == ["1", "2", "3", "4"]
    assert out[1]["error"] == "row has 2 fields; the header has 3"
    assert out[2]["error"] == "row has 4 fields; the header has 3"
    assert out[0]["allowed_expected"] == out[3]["allowed_expected"] == "70.00"
    assert summary["failed"] == 2


def test_a_stray_quote_is_reported_in_its_row_and_the_lines_it_swallowed_come_back(small):
    text, summary = batch(
        small,
        'id,cpt_code,payer_id,note\n1,11111,plan,ok\n2,11111,plan,"broken\n3,11111,plan,fine\n'
        '4,11111,plan,"quoted, legit"\n5,11111,plan,"two\nlines"\n6,11111,plan,last\n',
        chunk_rows=3,
    )
    out = rows(text)
    assert [r["id"] for r in out] == ["1", "2", "3", "4", "5", "6"]
    assert out[1]["note"] == "broken" and out[1]["error"].startswith("row has an unclosed quote")
    assert [r["allowed_expected"] for r in out] == ["70.00", "", "70.00", "70.00", "70.00", "70.00"]
    assert out[3]["note"] == "quoted, legit" and out[4]["note"] == "two\nlines"
    assert summary["failed"] == 1


def test_bad_utf8_in_a_request_field_is_reported_in_its_row(small):
    text, _ = batch(small, b"id,cpt_code,payer_id,note\n1,11111,pl\xe9n,ok\n2,11111,plan,caf\xe9\n")
    out = rows(text)
    assert out[0]["error"] == "payer_id: not valid UTF-8 text"
    assert out[1]["error"] == "" and out[1]["allowed_expected"] == "70.00"
    assert out[1]["note"] == "caf\ufffd"  # passed through, the byte that is not UTF-8 as U+FFFD


def test_header_only_gives_the_output_header(small):
    text, summary = batch(small, "cpt_code,payer_id\n")
    assert text.splitlines() == [",".join(["cpt_code", "payer_id", *BATCH_COLUMNS])]
    assert summary["rows"] == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("\n\n", "the file is empty"),
        ("a,b\n1,2\n", "no cpt_code and no payer_id"),
        ("cpt_code,units\n1,2\n", "no payer_id"),
        ("cpt_code,payer_id,cpt_code\n", "names cpt_code more than once"),
    ],
)
def test_unreadable_files_fail_as_a_whole(small, text, message):
    with pytest.raises(InputFileError, match=message):
        batch(small, text)


def cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "estimator", *args], input=stdin, capture_output=True)


def test_command_line_file_to_file(tmp_path):
    target = tmp_path / "out.csv"
    out = cli("batch", str(GOLDEN_IN), "-o", str(target), "--fee-schedules", str(TEST_SCHEDULES))
    assert out.returncode == 0, out.stderr
    assert target.read_text() == GOLDEN_OUT.read_text()
    assert b"12 rows read: 8 estimated, 4 failed; 4 priced on the national baseline range" in out.stderr
    assert b"Prior authorization: not applicable 1, not required 2, required 2, unknown 3." in out.stderr
    assert b"rows/s" in out.stderr


def test_command_line_stdin_to_stdout():
    out = cli("batch", "-", "-o", "-", "--fee-schedules", str(TEST_SCHEDULES), "-q", stdin=GOLDEN_IN.read_bytes())
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode() == GOLDEN_OUT.read_text()
    assert out.stderr == b""


def test_command_line_refuses_an_empty_file_with_a_clear_message(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    out = cli("batch", str(empty), "-o", str(tmp_path / "out.csv"))
    assert out.returncode == 2
    assert b"the file is empty" in out.stderr
    assert b"Traceback" not in out.stderr


def test_command_line_missing_input_file(tmp_path):
    out = cli("batch", str(tmp_path / "nope.csv"), "-o", "-")
    assert out.returncode == 2
    assert b"No such file or directory" in out.stderr


def test_joined_rows_read_back_as_the_cells_and_quote_as_the_csv_module_does():
    import pandas as pd

    from estimator.batch.stream import csv_text, neutralise

    cells = ["plain", "", "a,b", 'say "hi"', "line\nbreak", "cr\rhere", "=1+1", " spaced ", "-5", "'", '"']
    table = pd.DataFrame({"x": pd.Series(cells, dtype=object), "y": pd.Series(cells[::-1], dtype=object)})
    text = csv_text(table, inputs=2)
    expected = [neutralise(table["x"]).tolist(), neutralise(table["y"]).tolist()]
    assert [list(r) for r in zip(*expected, strict=True)] == list(csv.reader(io.StringIO(text, newline="")))
    for i in range(len(cells)):
        if "\r" in cells[i] or "\r" in cells[::-1][i]:
            continue
        reference = io.StringIO()
        csv.writer(reference, lineterminator="\n").writerow([expected[0][i], expected[1][i]])
        assert csv_text(table.iloc[[i]], inputs=2) == reference.getvalue()
    assert '"cr\rhere"' in text  # a carriage return is quoted, so a reader keeps the row whole
