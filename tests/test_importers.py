"""Importing published prices (SPEC section 8): payers' Transparency in Coverage files and hospitals'
standard charges, into a copy of a fee-schedule directory, checked row by row."""

import csv
import gzip
import json
import shutil
import subprocess
import sys

import pytest

from estimator.core.schedules import load_schedules
from estimator.importers.hospital import import_hospital
from estimator.importers.rows import RATES_FILE, ImportFailed
from estimator.importers.tic import import_tic

from .conftest import DATA

EXAMPLES = DATA / "price_transparency"


def imported(directory):
    """The imported rows (those with an "Imported from" note) as tuples."""
    with open(directory / RATES_FILE, newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["note"].startswith("Imported from")]
    return sorted(
        (
            r["payer_id"],
            r["cpt_code"],
            r["setting"],
            r["component"],
            r["region_id"],
            r["value"],
            r["effective_from"],
            r["effective_to"],
        )
        for r in rows
    )


def snapshot(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


# Transparency in Coverage ----------------------------------------------------------------------------


def test_the_cms_tic_samples_are_all_inpatient_and_import_nothing(into):
    before = snapshot(into)
    report = import_tic(
        EXAMPLES / "in-network-rates-fee-for-service-single-plan-sample.json", into, "plan", region_id="r1"
    )
    # every price of the sample is for the inpatient setting: section 8 skips inpatient-only prices
    assert report.written == 0 and report.skipped == {"inpatient only": 5}
    assert snapshot(into)[RATES_FILE] == before[RATES_FILE]
    report = import_tic(EXAMPLES / "in-network-rates-no-npi.json", into, "plan", region_id="r1")
    assert report.skipped == {"inpatient only": 1}


def tic_file(references_first=True, prices=None):
    references = [
        {
            "provider_group_id": 1,
            "provider_groups": [{"npi": [1234567893], "tin": {"type": "ein", "value": "11-1111111"}}],
        },
        {
            "provider_group_id": 2,
            "provider_groups": [{"npi": [2222222222], "tin": {"type": "ein", "value": "22-2222222"}}],
        },
        {"provider_group_id": 3, "location": "https://example.invalid/groups/3.json"},
    ]

    def price(rate, **extra):
        return {
            "negotiated_type": "negotiated",
            "negotiated_rate": rate,
            "expiration_date": "9999-12-31",
            "billing_class": "professional",
            **extra,
        }

    in_network = prices or [
        {
            "negotiation_arrangement": "ffs",
            "billing_code_type": "CPT",
            "billing_code": "11111",
            "negotiated_rates": [
                {
                    "provider_references": [1],
                    "negotiated_prices": [
                        price(95.5, service_code=["11"]),
                        price(410, service_code=["22", "19"], billing_class="institutional"),
                        price(130, service_code=["24"], billing_class="both"),
                        price(80, negotiated_type="percentage"),
                        price(200, billing_code_modifier=["50"]),
                        price(300, setting="inpatient"),
                        price(77, service_code=["81"]),
                    ],
                },
                {"provider_references": [2], "negotiated_prices": [price(60, service_code=["11"])]},
                {"provider_references": [3], "negotiated_prices": [price(61)]},
            ],
        },
        {
            "negotiation_arrangement": "ffs",
            "billing_code_type": "CPT",
            "billing_code": "22222",
            "negotiated_rates": [
                {
                    "provider_references": [1],
                    "negotiated_prices": [
                        price(150, negotiated_type="fee schedule", expiration_date="2026-12-31"),
                        price(160, negotiated_type="derived", expiration_date="2026-12-31"),
                    ],
                }
            ],
        },
        {
            "negotiation_arrangement": "ffs",
            "billing_code_type": "CPT",
            "billing_code": "44444",
            "negotiated_rates": [{"provider_references": [1, 2], "negotiated_prices": [price(10), price(12)]}],
        },
        {
            "negotiation_arrangement": "capitation",
            "billing_code_type": "CPT",
            "billing_code": "11111",
            "negotiated_rates": [{"provider_references": [1], "negotiated_prices": [price(1)]}],
        },
        {
            "negotiation_arrangement": "ffs",
            "billing_code_type": "RC",
            "billing_code": "0450",
            "negotiated_rates": [{"provider_references": [1], "negotiated_prices": [price(1)]}],
        },
        {
            "negotiation_arrangement": "ffs",
            "billing_code_type": "CPT",
            "billing_code": "99999",
            "negotiated_rates": [{"provider_references": [1], "negotiated_prices": [price(1)]}],
        },
    ]
    head = {"reporting_entity_name": "Example payer", "plan_name": "Gold", "last_updated_on": "2025-03-01"}
    if references_first:
        return {**head, "provider_references": references, "in_network": in_network}
    return {**head, "in_network": in_network, "provider_references": references}


EXPECTED_WITH_NPI_1 = [
    ("plan", "11111", "asc", "facility", "r1", "130.00", "2025-03-01", ""),
    ("plan", "11111", "asc", "professional", "r1", "130.00", "2025-03-01", ""),
    ("plan", "11111", "hospital_outpatient", "facility", "r1", "410.00", "2025-03-01", ""),
    ("plan", "11111", "office", "professional", "r1", "95.50", "2025-03-01", ""),
    ("plan", "22222", "*", "professional", "r1", "150.00", "2025-03-01", "2026-12-31"),  # fee schedule over derived
    ("plan", "44444", "*", "professional", "r1", "10.00", "2025-03-01", ""),  # group 1 names one rate ... see below
]


@pytest.mark.parametrize("references_first", [True, False])
@pytest.mark.parametrize("gzipped", [False, True])
def test_a_tic_file_becomes_rows_as_section_8_says(tmp_path, into, references_first, gzipped):
    document = tic_file(references_first)
    # 44444 has two rates for the same row and providers: it is not guessed
    path = tmp_path / ("rates.json.gz" if gzipped else "rates.json")
    data = json.dumps(document).encode()
    path.write_bytes(gzip.compress(data) if gzipped else data)
    report = import_tic(path, into, "plan", region_id="r1", npis=["1234567893"])
    assert imported(into) == [row for row in EXPECTED_WITH_NPI_1 if row[1] != "44444"]
    assert report.skipped == {
        "percentage or per diem": 1,
        "modifier-specific": 1,
        "inpatient only": 1,
        "place of service not office, ASC or hospital outpatient": 1,
        "provider not selected": 1,
        "remote provider reference (not fetched)": 1,
        "several rates for one row": 2,
        "bundle or capitation": 1,
        "not CPT/HCPCS": 1,
        "not in procedures.csv": 1,
    }
    load_schedules(into)  # check-schedules accepts what was written


def test_without_a_provider_filter_every_provider_is_kept_and_disagreeing_rates_are_skipped(tmp_path, into):
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(tic_file()))
    report = import_tic(path, into, "plan", region_id="r1")
    office = [row for row in imported(into) if row[1] == "11111" and row[2] == "office"]
    assert office == []  # 95.50 (group 1) and 60 (group 2) for one row
    assert report.skipped["several rates for one row"] >= 2


def test_a_tin_filter_selects_the_same_providers(tmp_path, into):
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(tic_file()))
    import_tic(path, into, "plan", region_id="r1", tins=["11-1111111"])
    assert imported(into) == [row for row in EXPECTED_WITH_NPI_1 if row[1] != "44444"]


def test_importing_twice_gives_the_same_directory_and_replaces_overlapping_rows(tmp_path, into):
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(tic_file()))
    import_tic(path, into, "plan", region_id="r1", npis=["1234567893"])
    once = snapshot(into)
    report = import_tic(path, into, "plan", region_id="r1", npis=["1234567893"])
    assert snapshot(into) == once
    assert report.replaced == report.written == 5


def test_dry_run_and_json_report_change_nothing(tmp_path, into):
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(tic_file()))
    before = snapshot(into)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "estimator",
            "import",
            "tic",
            str(path),
            "--payer-id",
            "plan",
            "--region-id",
            "r1",
            "--npi",
            "1234567893",
            "--into",
            str(into),
            "--dry-run",
            "--report",
            str(tmp_path / "report.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "would write 5 rows" in out.stderr and "1 skipped: modifier-specific" in out.stderr
    assert snapshot(into) == before
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["rows_written"] == 5 and report["rows_skipped"]["inpatient only"] == 1 and report["dry_run"]


BAD_FILES = [
    ("wrong kind", b'{"hospital_name": "X", "standard_charge_information": []}', "no in_network array"),
    ("truncated", json.dumps(tic_file()).encode()[:700], "not complete, valid JSON"),
    ("not JSON", b"payer_id,cpt_code\nplan,11111\n", "seems to be a CSV file, not JSON"),
    ("a hospital CSV", b"hospital_name,last_updated_on,version\nX,2025-01-01,2.0.0\n", "import hospital` reads"),
    ("text", b"hello", "it is not JSON"),
    ("an array", b"[1, 2, 3]", "no in_network array"),
    ("empty", b"", "the file is empty"),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_file_that_is_not_a_tic_file_is_refused_and_changes_nothing(tmp_path, into, name, data, message):
    path = tmp_path / "rates.json"
    path.write_bytes(data)
    before = snapshot(into)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "estimator",
            "import",
            "tic",
            str(path),
            "--payer-id",
            "plan",
            "--zip",
            "10001",
            "--into",
            str(into),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert snapshot(into) == before


def test_an_interrupted_import_leaves_the_directory_as_it_was(tmp_path, into, monkeypatch):
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(tic_file()))
    before = snapshot(into)

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr("estimator.core.outputs.os.replace", fail)
    with pytest.raises(ImportFailed, match="disk full"):
        import_tic(path, into, "plan", region_id="r1", npis=["1234567893"])
    assert snapshot(into) == before  # no staging folder or part file left either


def test_rows_that_would_not_load_are_refused_whole(tmp_path, into):
    # the existing rvu row for 22222 cannot be priced (no RVUs): make the import collide with a bad directory
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(tic_file()))
    with pytest.raises(ImportFailed, match="payer 'nobody' is not in payers.csv"):
        import_tic(path, into, "nobody", region_id="r1")
    with pytest.raises(ImportFailed, match="maps to no region"):
        import_tic(path, into, "plan", zip_code="99999")


# Hospitals ---------------------------------------------------------------------------------------------


def payer_map(tmp_path, rows=("Platform Health Insurance,PPO,platform", "Region Health Insurance,,region")):
    path = tmp_path / "map.csv"
    path.write_text("payer_name,plan_name,payer_id\n" + "\n".join(rows) + "\n")
    return path


def test_the_cms_v3_tall_example_row_by_row(tmp_path, into):
    with open(into / "payers.csv", "a") as handle:
        handle.write("self_pay,Self-pay,self_pay,0,0,0,,,false\n")
    report = import_hospital(EXAMPLES / "V3.0.0_Tall_CSV_Format_Example.csv", into, payer_map(tmp_path), region_id="r1")
    facility = ("hospital_outpatient", "facility", "r1")
    assert imported(into) == sorted(
        [
            ("platform", "70551", *facility, "400.00", "2026-04-01", ""),  # negotiated dollar
            ("region", "70551", *facility, "250.00", "2026-04-01", ""),
            ("self_pay", "70551", *facility, "1080.00", "2026-04-01", ""),  # the discounted cash price
            ("platform", "49505", *facility, "8000.00", "2026-04-01", ""),
            ("region", "49505", *facility, "360.00", "2026-04-01", ""),
            ("platform", "80048", *facility, "150.00", "2026-04-01", ""),
            ("region", "80048", *facility, "125.00", "2026-04-01", ""),
            ("self_pay", "80048", *facility, "270.00", "2026-04-01", ""),
            ("platform", "J1450", *facility, "35.00", "2026-04-01", ""),  # setting "both"
            ("region", "J1450", *facility, "37.00", "2026-04-01", ""),
            ("self_pay", "J1450", *facility, "45.00", "2026-04-01", ""),
        ]
    )
    assert report.skipped["not CPT/HCPCS"] > 0  # revenue codes, DRGs, NDCs alone


def test_the_cms_v2_tall_example_with_its_iso_date(tmp_path, into):
    report = import_hospital(EXAMPLES / "V2.0.0_Tall_CSV_Format_Example.csv", into, payer_map(tmp_path), region_id="r1")
    facility = ("hospital_outpatient", "facility", "r1")
    assert imported(into) == sorted(
        [
            ("platform", "92626", *facility, "98.98", "2024-07-01", ""),
            # 115 % of the state's workers' compensation amount (methodology "fee schedule"), so not of the
            # $150 gross charge: the file's estimated amount
            ("region", "92626", *facility, "105.34", "2024-07-01", ""),
            ("platform", "J1450", *facility, "35.00", "2024-07-01", ""),
            ("region", "J1450", *facility, "37.00", "2024-07-01", ""),
        ]
    )
    assert report.skipped["not in procedures.csv"] > 0  # H0017 and others not in this directory


WIDE = (
    "\ufeffhospital_name,last_updated_on,version,location_name,hospital_address,license_number|OR\n"
    "Test Hospital,3/15/2026,3.0.0,Test Hospital,1 Main St,123\n"
    "description,code|1,code|1|type,code|2,code|2|type,modifiers,setting,standard_charge|gross,"
    "standard_charge|discounted_cash,standard_charge|Platform Health Insurance|PPO|negotiated_dollar,"
    "standard_charge|Platform Health Insurance|PPO|negotiated_percentage,"
    "standard_charge|Platform Health Insurance|PPO|negotiated_algorithm,median_amount|Platform Health Insurance|PPO,"
    "standard_charge|Platform Health Insurance|PPO|methodology,"
    "standard_charge|Other Payer|Basic|negotiated_dollar,standard_charge|Other Payer|Basic|negotiated_percentage,"
    "standard_charge|Other Payer|Basic|negotiated_algorithm,median_amount|Other Payer|Basic,"
    "standard_charge|Other Payer|Basic|methodology,additional_generic_notes\n"
    "Injection,64483,CPT,,,,outpatient,1000,700,,45,,,percent of total billed charges,300,,,,fee schedule,\n"
    "MRI,70551,CPT,611,RC,,both,2000,1500,,,APC 5523 x 1.4,812.5,other,,,,,,\n"
    "MRI with modifier,70551,CPT,,,26,outpatient,2000,1500,100,,,,fee schedule,,,,,,\n"
    "Hip,27447,CPT,,,,inpatient,50000,40000,30000,,,,case rate,,,,,,\n"
)


def test_a_wide_csv_with_a_byte_order_mark_and_a_month_day_year_date(tmp_path, into):
    path = tmp_path / "wide.csv"
    path.write_text(WIDE, encoding="utf-8")
    with open(into / "payers.csv", "a") as handle:
        handle.write("self_pay,Self-pay,self_pay,0,0,0,,,false\n")
    report = import_hospital(path, into, payer_map(tmp_path), region_id="r1")
    facility = ("hospital_outpatient", "facility", "r1")
    assert imported(into) == sorted(
        [
            ("platform", "64483", *facility, "450.00", "2026-03-15", ""),  # 45 % of the 1,000 gross charge
            ("self_pay", "64483", *facility, "700.00", "2026-03-15", ""),
            ("platform", "70551", *facility, "812.50", "2026-03-15", ""),  # an algorithm: the median amount
            ("self_pay", "70551", *facility, "1500.00", "2026-03-15", ""),
        ]
    )
    assert report.skipped == {"unmapped payer or plan": 1, "modifier-specific": 2, "inpatient only": 2}


def test_a_hospital_json_file(tmp_path, into):
    document = {
        "hospital_name": "Json Hospital",
        "last_updated_on": "2026-02-01",
        "version": "3.0.0",
        "standard_charge_information": [
            {
                "description": "Injection",
                "code_information": [{"code": "64483", "type": "CPT"}],
                "standard_charges": [
                    {
                        "setting": "outpatient",
                        "gross_charge": 900,
                        "discounted_cash": 600,
                        "payers_information": [
                            {
                                "payer_name": "Platform Health Insurance",
                                "plan_name": "PPO",
                                "standard_charge_dollar": 420,
                                "methodology": "fee schedule",
                            },
                            {
                                "payer_name": "Region Health Insurance",
                                "plan_name": "HMO",
                                "standard_charge_algorithm": "x",
                                "median_amount": 333.3,
                                "methodology": "other",
                            },
                            {
                                "payer_name": "Nobody",
                                "plan_name": "X",
                                "standard_charge_dollar": 1,
                                "methodology": "fee schedule",
                            },
                        ],
                    }
                ],
            },
        ],
    }
    path = tmp_path / "charges.json"
    path.write_text(json.dumps(document))
    report = import_hospital(path, into, payer_map(tmp_path), region_id="r1")
    assert imported(into) == sorted(
        [
            ("platform", "64483", "hospital_outpatient", "facility", "r1", "420.00", "2026-02-01", ""),
            ("region", "64483", "hospital_outpatient", "facility", "r1", "333.30", "2026-02-01", ""),
        ]
    )
    assert report.skipped == {"unmapped payer or plan": 1}
    assert "no self_pay payer" in " ".join(report.notes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n", "fewer than three rows"),
        ("x,y\n1,2\nz\n", "no hospital_name and last_updated_on"),
        (
            "hospital_name,last_updated_on\nH,2026-01-01\ndescription,setting\nx,outpatient\n",
            "missing required headers",
        ),
        ("hospital_name,last_updated_on\nH,someday\n" + WIDE.split("\n", 3)[2] + "\n", "not a date"),
    ],
)
def test_a_csv_that_is_not_a_standard_charges_file_is_refused(tmp_path, into, text, message):
    path = tmp_path / "charges.csv"
    path.write_text(text)
    before = snapshot(into)
    with pytest.raises(ImportFailed, match=message):
        import_hospital(path, into, payer_map(tmp_path), region_id="r1")
    assert snapshot(into) == before


def test_estimates_through_the_api_use_the_imported_rate(tmp_path, into):
    from estimator.web.app import create_app

    app = create_app({"TESTING": True, "FEE_SCHEDULES": str(into), "RELOAD_INTERVAL": 0})
    client = app.test_client()
    request = {
        "cpt_code": "11111",
        "payer_id": "plan",
        "region_id": "r1",
        "setting": "office",
        "date_of_service": "2025-06-01",
    }
    before = client.post("/api/v1/estimates", json=request).get_json()["allowed_amount"]["expected"]
    path = tmp_path / "rates.json"
    path.write_text(json.dumps(tic_file()))
    import_tic(path, into, "plan", region_id="r1", npis=["1234567893"])
    assert app.extensions["schedule_store"].reload_if_changed()
    after = client.post("/api/v1/estimates", json=request).get_json()
    assert before != 95.5 and after["allowed_amount"]["expected"] == 95.5
    assert any("Imported from rates.json" in w for w in after["warnings"])
    health = client.get("/healthz").get_json()
    assert RATES_FILE in health["files"]


def test_as_the_readme_says_a_copy_of_the_shipped_schedules_gives_the_imported_rate_on_the_web_form(tmp_path):
    import re

    from estimator.core.schedules import DEFAULT_DIRECTORY
    from estimator.web.app import create_app

    mine = tmp_path / "my_schedules"
    shutil.copytree(DEFAULT_DIRECTORY, mine)
    document = {
        "reporting_entity_name": "Example payer",
        "last_updated_on": "2025-01-01",
        "provider_references": [
            {"provider_group_id": 1, "provider_groups": [{"npi": [1234567893], "tin": {"type": "ein", "value": "1"}}]}
        ],
        "in_network": [
            {
                "negotiation_arrangement": "ffs",
                "billing_code_type": "CPT",
                "billing_code": "64493",
                "negotiated_rates": [
                    {
                        "provider_references": [1],
                        "negotiated_prices": [
                            {
                                "negotiated_type": "negotiated",
                                "negotiated_rate": 321.09,
                                "expiration_date": "9999-12-31",
                                "service_code": ["11"],
                                "billing_class": "professional",
                            }
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "in-network-rates.json.gz"
    path.write_bytes(gzip.compress(json.dumps(document).encode()))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "estimator",
            "import",
            "tic",
            str(path),
            "--payer-id",
            "example_ppo",
            "--zip",
            "10001",
            "--npi",
            "1234567893",
            "--into",
            str(mine),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and "wrote 1 rows" in out.stderr, out.stderr
    client = create_app({"TESTING": True, "FEE_SCHEDULES": str(mine)}).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    page = client.post(
        "/estimate",
        data={
            "csrf_token": token,
            "cpt_code": "64493",
            "payer_id": "example_ppo",
            "zip": "10001",
            "setting": "office",
            "date_of_service": "2025-06-01",
        },
    ).get_data(as_text=True)
    assert 'data-field="allowed_expected">$321.09<' in page
