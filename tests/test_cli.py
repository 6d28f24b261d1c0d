"""``python -m estimator estimate`` prints the SPEC section 5 answer or the field errors."""

import json
import subprocess
import sys

from .conftest import TEST_SCHEDULES


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "estimator", *args], capture_output=True, text=True, env=env)


def test_estimate_prints_the_answer():
    out = cli(
        "estimate", "--cpt-code", "64483", "--payer-id", "medicare", "--zip", "10001", "--date-of-service", "2025-05-01"
    )
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["allowed_amount"] == {"low": 271.66, "expected": 271.66, "high": 271.66}
    assert answer["region_id"] == "ny-01"
    # 257 deductible + 20 % of (271.6548 - 257)
    assert answer["patient_responsibility"]["expected"] == 259.93
    assert answer["payer_responsibility"]["expected"] == 11.73  # 271.66 - 259.93: the shown figures add up
    assert answer["prior_authorization"] == {
        "status": "not_required",
        "crd_code": "no-auth",
        "reason": "Original Medicare does not ask for prior authorization for this service in this setting.",
        "documentation": None,
        "source": answer["prior_authorization"]["source"],
    }
    assert answer["components"][0]["basis"] == "rvu"
    assert answer["good_faith_estimate"] is False
    assert any("Deductible" in line for line in answer["explanation"])


def test_estimate_self_pay_is_a_good_faith_estimate():
    out = cli("estimate", "--cpt-code", "20971", "--payer-id", "self_pay", "--date-of-service", "2025-05-01")
    answer = json.loads(out.stdout)
    assert answer["good_faith_estimate"] is True
    assert "$400 or more" in answer["good_faith_notice"]
    assert answer["patient_responsibility"] == {"low": 500.0, "expected": 1000.0, "high": 2000.0}
    assert answer["prior_authorization"]["status"] == "not_applicable"


def test_estimate_bilateral_20971_with_modifier_50():
    out = cli(
        "estimate",
        "--cpt-code",
        "20971",
        "--payer-id",
        "self_pay",
        "--modifiers",
        "50",
        "--date-of-service",
        "2025-05-01",
    )
    assert json.loads(out.stdout)["allowed_amount"] == {"low": 750.0, "expected": 1500.0, "high": 3000.0}


def test_estimate_errors_name_the_field_and_exit_2():
    out = cli("estimate", "--cpt-code", "64483", "--payer-id", "medicare", "--units", "0", "--zip", "abc")
    assert out.returncode == 2
    errors = json.loads(out.stderr)["errors"]
    assert set(errors) == {"units", "zip"}
    assert out.stdout == ""


def test_fee_schedules_option_and_environment_variable():
    by_option = cli(
        "estimate",
        "--cpt-code",
        "11111",
        "--payer-id",
        "plan",
        "--date-of-service",
        "2025-06-01",
        "--fee-schedules",
        str(TEST_SCHEDULES),
    )
    assert json.loads(by_option.stdout)["allowed_amount"]["expected"] == 70.0
    import os

    env = {**os.environ, "ESTIMATOR_FEE_SCHEDULES": str(TEST_SCHEDULES)}
    by_env = cli("estimate", "--cpt-code", "11111", "--payer-id", "plan", "--date-of-service", "2025-06-01", env=env)
    assert by_env.stdout == by_option.stdout


def test_a_bad_schedule_directory_is_refused_with_its_message(tmp_path):
    out = cli("estimate", "--cpt-code", "11111", "--payer-id", "plan", "--fee-schedules", str(tmp_path))
    assert out.returncode == 2
    assert "procedures.csv: is missing from the fee-schedule directory" in out.stderr
    assert "Traceback" not in out.stderr


def test_serve_starts_the_service_on_the_given_schedules():
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "estimator",
            "serve",
            "--fee-schedules",
            str(TEST_SCHEDULES),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        env={**__import__("os").environ, "ESTIMATOR_SECRET_KEY": "s" * 64},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    health = json.load(answer)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
        assert health["fee_schedules"] == str(TEST_SCHEDULES)
        assert health["procedures"] == 5
    finally:
        server.terminate()
        server.wait(timeout=30)


BAD_OPTIONS = [
    ("batch", "--chunk-rows", "0"),
    ("batch", "--chunk-rows", "-5"),
    ("batch", "--chunk-rows", "many"),
    ("batch", "--chunk-rows", "1.5"),
    ("batch", "--today", "2025-02-30"),
    ("batch", "--engine", "spark"),
    ("batch", "--jobs", "0"),
    ("batch", "--jobs", "two"),
    ("estimate", "--today", "tomorrow"),
    ("serve", "--workers", "0"),
]


def test_every_bad_option_is_a_usage_error_that_writes_nothing(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("cpt_code,payer_id\n11111,plan\n")
    for command, option, value in BAD_OPTIONS:
        target = tmp_path / "out.csv"
        if command == "batch":
            args = ["batch", str(source), "-o", str(target)]
        elif command == "estimate":
            args = ["estimate", "--cpt-code", "11111", "--payer-id", "plan"]
        else:
            args = ["serve"]
        out = cli(*args, "--fee-schedules", str(TEST_SCHEDULES), option, value)
        assert out.returncode == 2, (option, value, out.stdout)
        assert f"argument {option}" in out.stderr and "Traceback" not in out.stderr, out.stderr
        assert not target.exists()


def test_the_help_of_each_benefit_option_gives_its_real_default():
    from estimator.cli import build_parser

    (sub,) = [a for a in build_parser()._actions if a.dest == "command"]
    helps = {action.dest: action.help for action in sub.choices["estimate"]._actions}
    for field in ("deductible", "coinsurance", "copay", "oop_max"):
        assert helps[field].endswith("(default: the payer's)")
    for field in ("deductible_met", "oop_met"):
        assert helps[field].endswith("(default: 0)")
    # and the defaults are what the help says: nothing met unless given
    out = cli(
        "estimate",
        "--cpt-code",
        "11111",
        "--payer-id",
        "plan",
        "--date-of-service",
        "2025-06-01",
        "--fee-schedules",
        str(TEST_SCHEDULES),
    )
    sharing = json.loads(out.stdout)["cost_sharing"]
    assert (sharing["deductible_met"], sharing["oop_met"], sharing["deductible"]) == (0.0, 0.0, 100.0)


def test_coinsurance_typed_as_text_is_the_same_at_every_text_door(client):
    """``20%`` and ``0.2`` are the same coinsurance on the command line, in a batch cell and in the form;
    ``20`` gets the message that says a fraction or a percent with its sign is meant, at each of them."""
    from .test_web import token

    request = {"cpt_code": "64483", "payer_id": "example_ppo", "zip": "10001", "date_of_service": "2025-05-01"}
    api = client.post("/api/v1/estimates", json={**request, "coinsurance": 0.2}).get_json()
    expected = api["patient_responsibility"]["expected"]
    options = [f"--{k.replace('_', '-')}={v}" for k, v in request.items()]
    header = ",".join([*request, "coinsurance"])
    for typed in ("20%", "0.2", "20 %"):
        out = cli("estimate", *options, f"--coinsurance={typed}")
        assert json.loads(out.stdout)["patient_responsibility"]["expected"] == expected, out.stderr
        body = f"{header}\n{','.join(request.values())},{typed}\n"
        row = client.post("/api/v1/estimates/batch", data=body, content_type="text/csv").get_data(as_text=True)
        assert f",{expected:.2f}," in row.splitlines()[1]
        page = client.post("/estimate", data={**request, "coinsurance": typed, "csrf_token": token(client)})
        assert f"${expected:,.2f}" in page.get_data(as_text=True)
    message = "Give coinsurance as a fraction from 0 to 1 (0.2 = 20 %) or as a percent with its sign (20%)."
    out = cli("estimate", *options, "--coinsurance=20")
    assert out.returncode == 2 and json.loads(out.stderr) == {"errors": {"coinsurance": [message]}}
    body = f"{header}\n{','.join(request.values())},20\n"
    row = client.post("/api/v1/estimates/batch", data=body, content_type="text/csv").get_data(as_text=True)
    assert f"coinsurance: {message}" in row
    page = client.post("/estimate", data={**request, "coinsurance": "20", "csrf_token": token(client)})
    assert page.status_code == 422 and message in page.get_data(as_text=True).replace("&#39;", "'")
