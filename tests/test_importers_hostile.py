"""The importers on material no one here wrote (CMS's validator fixtures) and on hostile files and
directories: wrong prices, placeholders, byte-order marks, stray quotes, deep nesting, wrong types,
concurrent imports, mount points, symbolic links, leftovers of a killed import, full disks (SPEC section 8)."""

import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from estimator.core.schedules import load_schedules
from estimator.importers.depth import MAX_DEPTH, TooDeep, check_depth
from estimator.importers.hospital import import_hospital
from estimator.importers.rows import BAD_AMOUNT, BAD_DATE, NO_DATA, RATES_FILE, ImportFailed, directory_lock
from estimator.importers.tic import import_tic

from .test_importers import EXAMPLES, imported, payer_map, snapshot, tic_file

VALIDATOR = EXAMPLES / "cms-validator"
FACILITY = ("hospital_outpatient", "facility", "r1")


@pytest.fixture
def cash(into):
    with open(into / "payers.csv", "a") as handle:
        handle.write("self_pay,Self-pay,self_pay,0,0,0,,,false\n")
    return into


def run_cli(*args, timeout=120, env=None, preexec_fn=None):
    return subprocess.run(
        [sys.executable, "-m", "estimator", "import", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        preexec_fn=preexec_fn,
    )


# Wrong prices -------------------------------------------------------------------------------------------


def test_cms_v2_fixture_with_a_byte_order_mark_prices_a_fee_schedule_percentage_at_its_estimate(tmp_path, cash):
    report = import_hospital(VALIDATOR / "v2-sample-valid-bom.json", cash, payer_map(tmp_path), region_id="r1")
    assert imported(cash) == sorted(
        [
            ("platform", "92626", *FACILITY, "98.98", "2024-07-01", ""),
            # 115 % of the state's workers' compensation amount: not 115 % x the $150 gross charge
            ("region", "92626", *FACILITY, "105.34", "2024-07-01", ""),
            ("self_pay", "92626", *FACILITY, "125.00", "2024-07-01", ""),
        ]
    )
    assert report.written == 3


def test_cms_placeholder_nine_9s_is_skipped_and_reported_and_the_file_imports(tmp_path, cash):
    report = import_hospital(VALIDATOR / "v3-allowed-amounts-nine-9s.json", cash, payer_map(tmp_path), region_id="r1")
    assert imported(cash) == sorted(
        [
            ("platform", "92626", *FACILITY, "98.98", "2024-07-01", ""),
            ("self_pay", "92626", *FACILITY, "125.00", "2024-07-01", ""),
        ]
    )
    assert report.skipped[NO_DATA] == 1
    assert report.places[NO_DATA] == ["standard_charge_information item 2, Region Health Insurance HMO"]
    assert "999999999" in report.describe()


def hospital_json(charges, updated="2026-02-01"):
    """A version 3 JSON file with one outpatient 64483 item of ``charges`` (payers_information items)."""
    return {
        "hospital_name": "Json Hospital",
        "last_updated_on": updated,
        "version": "3.0.0",
        "standard_charge_information": [
            {
                "description": "Injection",
                "code_information": [{"code": "64483", "type": "CPT"}],
                "standard_charges": [
                    {
                        "setting": "outpatient",
                        "gross_charge": 1000,
                        "discounted_cash": 600,
                        "payers_information": charges,
                    }
                ],
            }
        ],
    }


def platform(**fields):
    return {"payer_name": "Platform Health Insurance", "plan_name": "PPO", **fields}


@pytest.mark.parametrize(
    ("charge", "expected", "skipped"),
    [
        (platform(standard_charge_percentage=40, methodology="percent of total billed charges"), "400.00", None),
        (platform(standard_charge_percentage=40, methodology="fee schedule", median_amount=310), "310.00", None),
        (platform(standard_charge_percentage=40, methodology="fee schedule", estimated_amount=320), "320.00", None),
        (platform(standard_charge_percentage=40, methodology="fee schedule"), None, "no dollar amount"),
        (platform(standard_charge_percentage=40, methodology="other", median_amount=999999999), None, NO_DATA),
        (platform(standard_charge_dollar=999999999), None, NO_DATA),
        (platform(standard_charge_dollar=0.001), None, BAD_AMOUNT),
        (platform(standard_charge_dollar=1e9), None, BAD_AMOUNT),
        (platform(standard_charge_dollar="inf"), None, BAD_AMOUNT),
        (platform(standard_charge_dollar="a lot"), None, BAD_AMOUNT),
        (platform(standard_charge_dollar=True), None, BAD_AMOUNT),
    ],
)
def test_a_hospital_price_is_its_dollar_amount_or_skipped_with_its_place(tmp_path, into, charge, expected, skipped):
    path = tmp_path / "charges.json"
    path.write_text(json.dumps(hospital_json([charge, platform(plan_name="Other", standard_charge_dollar=5)])))
    mapping = payer_map(tmp_path, ["Platform Health Insurance,PPO,platform", "Platform Health Insurance,Other,region"])
    report = import_hospital(path, into, mapping, region_id="r1")
    rows = {row[0]: row[5] for row in imported(into)}
    assert rows.get("region") == "5.00"  # the item's other price is imported whatever happens to this one
    assert rows.get("platform") == expected
    if skipped:
        assert report.skipped[skipped] == 1
    if skipped in (BAD_AMOUNT, NO_DATA):
        assert report.places[skipped] == ["standard_charge_information item 1, Platform Health Insurance PPO"]
    load_schedules(into)


def test_bad_cells_of_a_csv_are_skipped_with_their_lines(tmp_path, into):
    lines = [
        "hospital_name,last_updated_on,version",
        "Csv Hospital,2026-01-15,3.0.0",
        "description,code|1,code|1|type,setting,standard_charge|gross,standard_charge|discounted_cash,"
        "payer_name,plan_name,standard_charge|negotiated_dollar,standard_charge|methodology",
        "A,64483,CPT,outpatient,1000,,Platform Health Insurance,PPO,0.001,fee schedule",
        "B,64483,CPT,outpatient,1000,,Platform Health Insurance,PPO,inf,fee schedule",
        "C,64483,CPT,outpatient,1000,,Platform Health Insurance,PPO,1e9,fee schedule",
        'D,64483,CPT,outpatient,1000,,Platform Health Insurance,PPO,"1,234.50",fee schedule',
    ]
    path = tmp_path / "tall.csv"
    path.write_text("\n".join(lines) + "\n")
    report = import_hospital(path, into, payer_map(tmp_path), region_id="r1")
    assert imported(into) == [("platform", "64483", *FACILITY, "1234.50", "2026-01-15", "")]
    assert report.skipped[BAD_AMOUNT] == 3
    assert report.places[BAD_AMOUNT] == [f"line {n}, Platform Health Insurance PPO" for n in (4, 5, 6)]


def tic_prices(*prices):
    """A TiC file with one 11111 item of ``prices`` (negotiated_prices items) for every provider."""
    base = {"negotiated_type": "negotiated", "billing_class": "professional", "service_code": ["11"]}
    document = tic_file()
    document["in_network"] = [
        {
            "negotiation_arrangement": "ffs",
            "billing_code_type": "CPT",
            "billing_code": "11111",
            "negotiated_rates": [{"provider_references": [1], "negotiated_prices": [{**base, **p} for p in prices]}],
        },
        {
            "negotiation_arrangement": "ffs",
            "billing_code_type": "CPT",
            "billing_code": "22222",
            "negotiated_rates": [{"provider_references": [1], "negotiated_prices": [{**base, "negotiated_rate": 42}]}],
        },
    ]
    return document


@pytest.mark.parametrize(
    ("price", "reason"),
    [
        ({"negotiated_rate": True}, BAD_AMOUNT),
        ({"negotiated_rate": 0.001}, BAD_AMOUNT),
        ({"negotiated_rate": 1e9}, BAD_AMOUNT),
        ({"negotiated_rate": "100"}, BAD_AMOUNT),
        ({"negotiated_rate": 100, "expiration_date": "2025-13-45"}, BAD_DATE),
    ],
)
def test_one_bad_tic_price_is_skipped_with_its_place_and_the_rest_imports(tmp_path, into, price, reason):
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(tic_prices(price)))
    report = import_tic(path, into, "plan", region_id="r1")
    assert imported(into) == [("plan", "22222", "office", "professional", "r1", "42.00", "2025-03-01", "")]
    assert report.skipped[reason] == 1 and report.places[reason] == ["in_network item 1 (11111)"]


def test_a_tic_last_updated_on_given_twice_is_refused(tmp_path, into):
    text = json.dumps(tic_file())
    before = snapshot(into)
    for twice in (
        text.replace(
            '"last_updated_on": "2025-03-01"', '"last_updated_on": "2025-03-01", "last_updated_on": "2026-01-01"'
        ),
        text[:-1] + ', "last_updated_on": "2026-01-01"}',  # the second after the rates
    ):
        path = tmp_path / "twice.json"
        path.write_text(twice)
        with pytest.raises(ImportFailed, match="last_updated_on twice"):
            import_tic(path, into, "plan", region_id="r1")
    assert snapshot(into) == before


# Lost rows ------------------------------------------------------------------------------------------------


def test_a_stray_quote_loses_one_line_reported_by_number_not_every_row_after_it(tmp_path, into):
    lines = [
        "hospital_name,last_updated_on,version",
        "Csv Hospital,2026-01-15,3.0.0",
        "description,code|1,code|1|type,setting,standard_charge|gross,standard_charge|discounted_cash,"
        "payer_name,plan_name,standard_charge|negotiated_dollar,standard_charge|methodology",
        '"stray,64483,CPT,outpatient,1000,,Platform Health Insurance,PPO,1,fee schedule',
    ]
    lines += [f"Row {i},64483,CPT,outpatient,1000,,Payer {i},Plan,{100 + i},fee schedule" for i in range(999)]
    lines.append("Last,64483,CPT,outpatient,1000,,Platform Health Insurance,PPO,321.09,fee schedule")
    path = tmp_path / "stray.csv"
    path.write_text("\n".join(lines) + "\n")
    report = import_hospital(path, into, payer_map(tmp_path), region_id="r1")
    assert imported(into) == [("platform", "64483", *FACILITY, "321.09", "2026-01-15", "")]
    assert report.skipped["unmapped payer or plan"] == 999  # every line after the stray quote was read
    run_on = [reason for reason in report.skipped if "unclosed quote" in reason]
    assert run_on and report.skipped[run_on[0]] == 1 and report.places[run_on[0]] == ["line 4"]
    assert report.unmapped[("Payer 7", "Plan")] == 1 and len(report.unmapped) == 999


def second_tic(tmp_path, payer_code="33333", rate=77):
    document = tic_prices({"negotiated_rate": 1})
    document["in_network"][0]["billing_code"] = payer_code
    document["in_network"][0]["negotiated_rates"][0]["negotiated_prices"][0]["negotiated_rate"] = rate
    document["in_network"] = document["in_network"][:1]
    path = tmp_path / f"rates-{payer_code}.json"
    path.write_text(json.dumps(document))
    return path


def start_import(path, into):
    """``import tic`` of ``path`` into ``into`` started in a process of its own (standard error piped)."""
    command = ["import", "tic", str(path), "--payer-id", "plan", "--region-id", "r1", "--into", str(into)]
    return subprocess.Popen([sys.executable, "-m", "estimator", *command], stderr=subprocess.PIPE, text=True)


def test_imports_into_one_directory_at_once_wait_for_each_other_and_lose_no_row(tmp_path, into):
    first = tmp_path / "first.json"
    first.write_text(json.dumps(tic_prices({"negotiated_rate": 55})))  # 11111 and 22222
    second = second_tic(tmp_path)  # 33333
    with directory_lock(into):  # an import is writing: both new ones must wait for it
        runs = [start_import(path, into) for path in (first, second)]
        time.sleep(4)
        assert all(run.poll() is None for run in runs)  # waiting, not done and not failed
    outputs = [run.communicate(timeout=120)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert all("Waiting for another import" in out for out in outputs)
    assert [row[1] for row in imported(into)] == ["11111", "22222", "33333"]
    load_schedules(into)


def test_many_imports_racing_into_one_directory_keep_every_row(tmp_path, into):
    codes = ["11111", "22222", "33333", "44444"]
    paths = [second_tic(tmp_path, code, rate=10 + i) for i, code in enumerate(codes)]
    runs = [start_import(path, into) for path in paths]
    outputs = [run.communicate(timeout=180)[1] for run in runs]
    assert [run.returncode for run in runs] == [0] * 4, outputs
    assert sorted((row[1], row[5]) for row in imported(into)) == [
        (code, f"{10 + i}.00") for i, code in enumerate(codes)
    ]
    assert not [p for p in into.iterdir() if p.name.startswith(".")]


# Deep nesting ------------------------------------------------------------------------------------------------


def deep(levels, opener=b"[", closer=b"]"):
    return gzip.compress(b'{"in_network": ' + opener * levels + closer * levels + b"}")


MEMORY_LIMIT = 1536 * 2**20  # bytes of address space: ample for the import, far under what depth 100,000 took


def _limited():
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.mark.parametrize("kind", ["tic", "hospital"])
def test_a_289_byte_file_nesting_100000_deep_is_refused_within_a_memory_limit(tmp_path, into, kind):
    data = deep(100_000)
    assert len(data) < 400
    path = tmp_path / "deep.json.gz"
    if kind == "hospital":
        data = gzip.compress(
            b'{"hospital_name": "H", "standard_charge_information": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        )
    path.write_bytes(data)
    before = snapshot(into)
    which = ["--payer-id", "plan"] if kind == "tic" else ["--payer-map", payer_map(tmp_path)]
    out = run_cli(kind, path, *which, "--region-id", "r1", "--into", into, preexec_fn=_limited)
    assert out.returncode == 2, out.stderr
    assert f"nests deeper than {MAX_DEPTH} levels" in out.stderr and "Traceback" not in out.stderr
    assert snapshot(into) == before


def test_depth_counts_brackets_outside_strings_only():
    text = json.dumps({"a": ["[[[[" * 50, {"b": ']]]]\\"[[' * 30}], "c": [[["\\\\"]]]})
    assert check_depth(io.BytesIO(text.encode()), limit=5, block=7) == 4
    nested = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    with pytest.raises(TooDeep):
        check_depth(io.BytesIO(nested.encode()))
    assert check_depth(io.BytesIO(nested[1:-1].encode())) == MAX_DEPTH


# Wrong types -------------------------------------------------------------------------------------------------


def _tic_breakers():
    def item(**changes):
        document = tic_file()
        document["in_network"][0].update(changes)
        return document

    def first_rate(**changes):
        document = tic_file()
        document["in_network"][0]["negotiated_rates"][0].update(changes)
        return document

    references = tic_file()
    references["provider_references"][0] = "group 1"
    groups = tic_file()
    groups["provider_references"][0]["provider_groups"] = [7]
    numbers = tic_file()
    numbers["in_network"][1] = 42
    return [
        ("in_network item a number", numbers, "in_network item 2: the item is a number, not an object"),
        ("negotiated_rates text", item(negotiated_rates="cheap"), "negotiated_rates is text, not an array"),
        ("negotiated_prices an object", first_rate(negotiated_prices={}), "negotiated_prices is an object"),
        ("a price a list", first_rate(negotiated_prices=[[1]]), "a negotiated_prices item is an array"),
        ("a reference text", references, "provider_references item 1 is text, not an object"),
        ("a provider group a number", groups, "a provider group of 1 is a number"),
    ]


@pytest.mark.parametrize(("name", "document", "message"), _tic_breakers(), ids=[b[0] for b in _tic_breakers()])
def test_a_tic_field_of_the_wrong_type_is_refused_by_name(tmp_path, into, name, document, message):
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ImportFailed, match=message):
        import_tic(path, into, "plan", region_id="r1", npis=["1234567893"])


def _hospital_breakers():
    def charge(**changes):
        document = hospital_json([platform(standard_charge_dollar=5)])
        document["standard_charge_information"][0]["standard_charges"][0].update(changes)
        return document

    item = hospital_json([])
    item["standard_charge_information"][0] = "injection"
    codes = hospital_json([])
    codes["standard_charge_information"][0]["code_information"] = {"code": "64483"}
    return [
        ("an item text", item, "standard_charge_information item 1: the item is text"),
        ("code_information an object", codes, "code_information is an object, not an array"),
        ("payers_information a number", charge(payers_information=3), "payers_information is a number"),
        ("a payer a list", charge(payers_information=[["x"]]), "a payers_information item is an array"),
    ]


@pytest.mark.parametrize(
    ("name", "document", "message"), _hospital_breakers(), ids=[b[0] for b in _hospital_breakers()]
)
def test_a_hospital_field_of_the_wrong_type_is_refused_by_name(tmp_path, into, name, document, message):
    path = tmp_path / "charges.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ImportFailed, match=message):
        import_hospital(path, into, payer_map(tmp_path), region_id="r1")


def test_wrong_types_exit_2_with_a_message_on_the_command_line(tmp_path, into):
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(_tic_breakers()[0][1]))
    out = run_cli("tic", path, "--payer-id", "plan", "--region-id", "r1", "--into", into)
    assert out.returncode == 2 and "is a number, not an object" in out.stderr and "Traceback" not in out.stderr


# Where the files are -----------------------------------------------------------------------------------------


def test_leftovers_of_a_killed_import_are_cleared_by_the_next(tmp_path, into):
    (into / ".import-k1ll3d").mkdir()
    (into / ".import-k1ll3d" / "procedures.csv").write_text("half")
    (into / f".{RATES_FILE}.x1y2.part").write_text("half a file")
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(tic_file()))
    import_tic(path, into, "plan", region_id="r1", npis=["1234567893"])
    assert not [p.name for p in into.iterdir() if p.name.startswith(".")]


def test_a_killed_import_leaves_the_rates_file_whole(tmp_path, into):
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(tic_file()))
    before = (into / RATES_FILE).read_bytes()
    run = subprocess.Popen(
        [sys.executable, "-m", "estimator", "import", "tic", str(path), "--payer-id", "plan", "--region-id", "r1"]
        + ["--npi", "1234567893", "--into", str(into)],
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.2)  # somewhere in start-up, reading or writing
    run.kill()
    run.wait()
    after = (into / RATES_FILE).read_bytes()
    assert after == before or len(imported(into)) == 5  # the old file or the new one, never a part
    import_tic(path, into, "plan", region_id="r1", npis=["1234567893"])
    assert not [p.name for p in into.iterdir() if p.name.startswith(".")]
    load_schedules(into)


def test_into_a_symlink_to_another_filesystem_and_a_symlinked_rates_file(tmp_path, into):
    shm = "/dev/shm"
    if not os.path.isdir(shm) or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem here")
    elsewhere = shm + f"/estimator-test-{os.getpid()}"
    shutil.rmtree(elsewhere, ignore_errors=True)
    shutil.copytree(into, elsewhere)
    try:
        real_rates = os.path.join(elsewhere, "real-rates.csv")
        os.replace(os.path.join(elsewhere, RATES_FILE), real_rates)
        os.symlink("real-rates.csv", os.path.join(elsewhere, RATES_FILE))
        link = tmp_path / "mounted"
        link.symlink_to(elsewhere)
        path = tmp_path / "rates.json"
        path.write_text(json.dumps(tic_file()))
        parent_before = sorted(p.name for p in tmp_path.iterdir())
        out = run_cli("tic", path, "--payer-id", "plan", "--region-id", "r1", "--npi", "1234567893", "--into", link)
        assert out.returncode == 0, out.stderr
        assert os.path.islink(os.path.join(elsewhere, RATES_FILE))  # written through the link
        assert len(imported(link)) == 5
        assert sorted(p.name for p in tmp_path.iterdir()) == parent_before  # nothing staged outside
    finally:
        shutil.rmtree(elsewhere, ignore_errors=True)


def test_a_full_disk_is_a_message_and_changes_nothing(tmp_path, into, monkeypatch):
    import errno

    path = tmp_path / "rates.json"
    path.write_text(json.dumps(tic_file()))
    before = snapshot(into)

    def full(self, data):
        from estimator.core.outputs import OutputError

        raise OutputError(self.target, OSError(errno.ENOSPC, "No space left on device"))

    monkeypatch.setattr("estimator.core.outputs.OutputFile.write", full)
    with pytest.raises(ImportFailed, match="No space left on device"):
        import_tic(path, into, "plan", region_id="r1", npis=["1234567893"])
    assert snapshot(into) == before


@pytest.mark.parametrize("where", ["missing/report.json", "."])
def test_an_unwritable_report_path_is_refused_before_the_work(tmp_path, into, where):
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(tic_file()))
    before = snapshot(into)
    report = tmp_path / where
    out = run_cli("tic", path, "--payer-id", "plan", "--region-id", "r1", "--into", into, "--report", report)
    assert out.returncode == 2 and "--report" in out.stderr and "nothing was imported" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and snapshot(into) == before


# Wide files, payer maps, options ---------------------------------------------------------------------------


def wide_file(groups, rows):
    """A wide CSV with ``groups`` payer and plan column groups and ``rows`` rows of 64483; the last group
    is Platform Health Insurance / PPO with a dollar amount of 123.45."""
    names = [f"Payer {g}|Plan {g}" for g in range(groups - 1)] + ["Platform Health Insurance|PPO"]
    header = [
        "description",
        "code|1",
        "code|1|type",
        "setting",
        "standard_charge|gross",
        "standard_charge|discounted_cash",
    ]
    for name in names:
        header += [f"standard_charge|{name}|negotiated_dollar", f"standard_charge|{name}|methodology"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([["hospital_name", "last_updated_on", "version"], ["Wide", "2026-01-01", "3.0.0"], header])
    for _ in range(rows):
        writer.writerow(
            ["Injection", "64483", "CPT", "outpatient", "1000", ""]
            + ["", ""] * (groups - 1)
            + ["123.45", "fee schedule"]
        )
    return out.getvalue()


def test_a_wide_file_with_many_payer_columns_imports_the_one_priced(tmp_path, into):
    path = tmp_path / "wide.csv"
    path.write_text(wide_file(groups=2_000, rows=20))
    report = import_hospital(path, into, payer_map(tmp_path), region_id="r1")
    assert imported(into) == [("platform", "64483", *FACILITY, "123.45", "2026-01-01", "")]
    assert report.skipped == {}  # empty payer columns are nothing to skip


def test_a_payer_map_giving_one_payer_and_plan_two_ids_is_refused(tmp_path, into):
    path = tmp_path / "wide.csv"
    path.write_text(wide_file(groups=1, rows=1))
    for rows in (
        ["Platform Health Insurance,PPO,platform", "platform health insurance , ppo,region"],
        ["Region Health Insurance,,region", "Region Health Insurance,,platform"],
    ):
        with pytest.raises(ImportFailed, match="line 3: payer .* is mapped to .* on line 2 .* give each payer"):
            import_hospital(path, into, payer_map(tmp_path, rows), region_id="r1")
    # the same id twice is no conflict
    import_hospital(path, into, payer_map(tmp_path, ["Platform Health Insurance,PPO,platform"] * 2), region_id="r1")


def test_the_report_names_each_unmapped_payer_and_plan_with_its_count(tmp_path, into):
    path = tmp_path / "wide.csv"
    path.write_text(wide_file(groups=1, rows=3).replace("Platform Health Insurance|PPO", "Acme|Gold"))
    out = run_cli("hospital", path, "--payer-map", payer_map(tmp_path), "--region-id", "r1", "--into", into)
    assert out.returncode == 0, out.stderr
    assert "3 skipped: unmapped payer or plan" in out.stderr and "3 x payer 'Acme', plan 'Gold'" in out.stderr


def test_import_hospital_takes_effective_from(tmp_path, into):
    path = tmp_path / "wide.csv"
    path.write_text(wide_file(groups=1, rows=1))
    out = run_cli(
        "hospital", path, "--payer-map", payer_map(tmp_path), "--region-id", "r1", "--into", into,
        "--effective-from", "2026-07-01", "--report", tmp_path / "report.json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert imported(into) == [("platform", "64483", *FACILITY, "123.45", "2026-07-01", "")]
    assert json.loads((tmp_path / "report.json").read_text())["rows_written"] == 1


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--npi", "123", "is not an NPI"), ("--npi", "1234567890", "check digit"), ("--tin", "12-34", "is not a TIN")],
)
def test_npis_and_tins_are_checked_before_anything_is_read(tmp_path, into, option, value, message):
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(tic_file()))
    out = run_cli("tic", path, "--payer-id", "plan", "--region-id", "r1", option, value, "--into", into)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_a_tin_matches_with_or_without_its_hyphen(tmp_path, into):
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(tic_file()))
    report = import_tic(path, into, "plan", region_id="r1", tins=["111111111"])
    assert report.written == 5


# Byte for byte ------------------------------------------------------------------------------------------------

ODD_RATES = (
    "payer_id,cpt_code,setting,component,region_id,basis,value,effective_from,effective_to\r\n"
    'plan,*,*,professional,*,rvu,"20",2025-01-01,\r\n'
    "plan,22222,*,professional,*,baseline,0.50,2024-01-01,\r\n"
    '"plan","22222",*,professional,r2,amount,700,2024-01-01,2024-12-31\r\n'
    "plan,33333,*,professional,*,rvu,30,2024-01-01,"  # no line end at the end of the file
)


def test_an_import_writing_nothing_leaves_the_file_byte_identical(tmp_path, into):
    (into / RATES_FILE).write_bytes(ODD_RATES.encode())
    load_schedules(into)
    before = snapshot(into)
    report = import_tic(EXAMPLES / "in-network-rates-no-npi.json", into, "plan", region_id="r1")
    assert report.written == 0 and snapshot(into) == before


def test_rows_an_import_does_not_replace_keep_their_bytes(tmp_path, into):
    (into / RATES_FILE).write_bytes(ODD_RATES.encode())
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(tic_file()))
    report = import_tic(path, into, "plan", region_id="r1", npis=["1234567893"])
    text = (into / RATES_FILE).read_bytes().decode()
    old = ODD_RATES.split("\r\n")
    assert text.startswith("\r\n".join(old[:-1]) + "\r\n" + old[-1] + "\r\n")  # kept as written, in order
    new = text[len(ODD_RATES) + 2 :].split("\r\n")
    assert len(new) == 6 and new[-1] == "" and all(line.startswith("plan,") for line in new[:-1])
    assert "no note column" in " ".join(report.notes)
    assert report.written == 5 and report.replaced == 0
    load_schedules(into)


def test_a_replaced_row_goes_and_the_others_keep_their_bytes(tmp_path, into):
    rates = into / RATES_FILE
    original = rates.read_text()
    rates.write_text(
        original
        + 'plan,11111,office,professional,r1,amount,5,2025-01-01,,"replaced, as ""written"""\n'
        + 'plan,22222,office,professional,r1,amount,9,2025-01-01,,"a ""quoted"" note"\n'
    )
    before = rates.read_text()
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(tic_file()))
    report = import_tic(path, into, "plan", region_id="r1", npis=["1234567893"])
    after = rates.read_text()
    # 11111 office professional r1 from 2025-03-01 overlaps the row from 2025-01-01, and 22222 * professional
    # r1 the test schedules' row from 2024-01-01
    assert report.replaced == 2
    gone = ("plan,11111,office,professional,r1,", "plan,22222,*,professional,r1,")
    kept = [line for line in before.splitlines(keepends=True) if not line.startswith(gone)]
    assert after.startswith("".join(kept))


def test_the_cli_prints_no_traceback_for_any_hostile_file(tmp_path, into):
    cases = {
        "bom.json": b"\xef\xbb\xbf" + json.dumps(tic_file()).encode(),
        "deep.json": b"[" * 5000,
        "types.json": json.dumps({"in_network": [1, "x", None]}).encode(),
        "nul.json": b"\x00\x00\x00",
        "latin.csv": "hospital_name,last_updated_on\nH\xe9,2026-01-01\n".encode("latin-1"),
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        for kind in ("tic", "hospital"):
            which = ["--payer-id", "plan"] if kind == "tic" else ["--payer-map", payer_map(tmp_path)]
            out = run_cli(kind, path, *which, "--region-id", "r1", "--into", into)
            assert out.returncode in (0, 2) and "Traceback" not in out.stderr, (name, kind, out.stderr)


@pytest.fixture(params=["here", "ahead"])
def scanning(request, monkeypatch):
    """Files scanned in this process, or ahead by a child process (the path of large files)."""
    monkeypatch.setattr("estimator.importers.depth.AHEAD_FROM", 0 if request.param == "ahead" else 1 << 62)
    return request.param


def test_both_scanning_paths_refuse_depth_and_a_second_last_updated_on_and_import_the_rest(tmp_path, into, scanning):
    deep_file = tmp_path / "deep.json.gz"
    deep_file.write_bytes(deep(100_000))
    with pytest.raises(ImportFailed, match=f"nests deeper than {MAX_DEPTH} levels"):
        import_tic(deep_file, into, "plan", region_id="r1")
    twice = tmp_path / "twice.json"
    twice.write_text(json.dumps(tic_file())[:-1] + ', "last_updated_on": "2026-01-01"}')
    with pytest.raises(ImportFailed, match="last_updated_on twice"):
        import_tic(twice, into, "plan", region_id="r1")
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(gzip.compress(json.dumps(tic_file()).encode())[:-30])
    with pytest.raises(ImportFailed, match="not complete, valid JSON"):
        import_tic(broken, into, "plan", region_id="r1")
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(tic_file()))
    assert import_tic(path, into, "plan", region_id="r1", npis=["1234567893"]).written == 5
    hospital = tmp_path / "charges.json"
    hospital.write_text(json.dumps(hospital_json([platform(standard_charge_dollar=77)])))
    assert import_hospital(hospital, into, payer_map(tmp_path), region_id="r1").written == 1
