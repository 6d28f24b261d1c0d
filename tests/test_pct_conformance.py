"""The FHIR export against the Da Vinci PCT STU2 (2.0.1) profiles: every rule of ``pct_rules`` holds for the
guide's own examples (translated to JSON in tests/data/davinci_pct, source named there) and for Bundles of
estimates saved through the API and the web; each rule fails when what it checks is taken out of an export;
both parse with fhir.resources. Figures are checked against the answers they come from."""

import copy
import html
import json
import re
import uuid
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

from estimator.records.accounts import add_user, create_token
from estimator.records.db import make_engine, make_sessions
from estimator.web.app import create_app

from . import pct_rules
from .records_support import database_url

EXAMPLES = Path(__file__).parent / "data" / "davinci_pct"
PASSWORD = "correct horse battery staple"
PROVIDER = {
    "name": "Peachtree Spine Clinic",
    "npi": "1234567893",
    "tin": "12-3456789",
    "phone": "(404) 555-0100",
    "address": {"line": "1 Main St", "city": "Atlanta", "state": "GA", "postal_code": "30303"},
}
FACILITY = {
    "name": "Peachtree Surgery Center",
    "npi": "1245319599",
    "tin": "98-7654321",
    "address": {"line": "2 Main St", "city": "Atlanta", "state": "GA", "postal_code": "30303"},
}
#: A self-pay visit in an ASC (a facility fee on file), both sides and one side.
SELF_PAY_ASC = {
    "payer_id": "self_pay",
    "zip": "30303",
    "setting": "asc",
    "date_of_service": "2026-12-15",
    "lines": [{"cpt_code": "64483", "modifiers": ["50"]}, {"cpt_code": "64484", "modifiers": ["RT"], "units": 2}],
}
#: An insured visit in a hospital outpatient department with the plan's facility fee.
INSURED_HOSPITAL = {
    "payer_id": "example_ppo",
    "zip": "10001",
    "setting": "hospital_outpatient",
    "date_of_service": "2026-12-15",
    "deductible_met": 200,
    "lines": [{"cpt_code": "64483"}, {"cpt_code": "64484"}],
}
#: One Medicare line in the office; and a Medicare ASC visit, whose facility fee is not on file.
MEDICARE_OFFICE = {"payer_id": "medicare", "zip": "10001", "cpt_code": "20610", "date_of_service": "2026-12-15"}
MEDICARE_ASC = {**INSURED_HOSPITAL, "payer_id": "medicare", "setting": "asc"}


def example(name):
    return json.loads((EXAMPLES / name).read_text())


def guide_professional_bundle():
    return example("bundle-professional.json")


def guide_institutional_bundle():
    """The guide's Summary and institutional GFE with the resources they name (its professional Bundle's
    entries, the institutional Claim and its billing Organization in place of the professional's)."""
    bundle = guide_professional_bundle()
    entries = [e for e in bundle["entry"] if e["resource"]["resourceType"] not in ("Practitioner",)]
    entries[1] = {
        "fullUrl": "http://example.org/fhir/Claim/PCT-GFE-Institutional-MRI",
        "resource": example("institutional.json"),
    }
    entries.append(
        {"fullUrl": "http://example.org/fhir/Organization/Submitter-Org-1", "resource": example("submitter-org.json")}
    )
    return {**bundle, "entry": entries}


def test_the_guides_examples_meet_every_rule():
    for bundle in (guide_professional_bundle(), guide_institutional_bundle()):
        Bundle.model_validate(bundle)
        assert pct_rules.check(bundle) == {}
    patient = guide_professional_bundle()["entry"][4]
    self_pay = {
        "resourceType": "Bundle",
        "entry": [patient, {"fullUrl": "Coverage/selfpay", "resource": example("selfpay-coverage.json")}],
    }
    assert pct_rules.pct_coverage(self_pay) == [] and pct_rules.pct_coverage_1_and_2(self_pay) == []


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    url, _ = database_url("sqlite", tmp_path_factory.mktemp("pct"))
    app = create_app({"TESTING": True, "DATABASE_URL": url, "RELOAD_INTERVAL": 0})
    session = make_sessions(make_engine(url))()
    add_user(session, "staff@example.org", PASSWORD)
    headers = {"Authorization": f"Bearer {create_token(session, 'staff@example.org')}"}
    yield app, headers
    session.close()
    session.bind.dispose()
    app.extensions["records_engine"].dispose()


def save_by_api(site, estimate, patient=None, facility=True, diagnoses=("M54.16", "M47.816")):
    app, headers = site
    body = {
        "estimate": estimate,
        "patient": patient or {"name": "Jane Q. Doe", "birth_date": "1970-02-03", "sex": "female"},
        "provider": PROVIDER,
        "diagnosis_codes": list(diagnoses),
    }
    if facility:
        body["facility"] = FACILITY
    client = app.test_client()
    response = client.post("/api/v1/saved-estimates", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    saved = response.get_json()
    exported = client.get(f"/api/v1/saved-estimates/{saved['id']}/fhir", headers=headers)
    assert exported.status_code == 200 and exported.mimetype == "application/fhir+json"
    return saved, exported.get_json()


def token_of(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def signed_in(app):
    client = app.test_client()
    client.post(
        "/login", data={"csrf_token": token_of(client, "/login"), "email": "staff@example.org", "password": PASSWORD}
    )
    return client


def web_fields(prefix, party):
    fields = {f"{prefix}_{key}": party[key] for key in ("name", "npi", "tin")}
    fields.update({f"{prefix}_address_{key}": value for key, value in party["address"].items()})
    if party.get("phone"):
        fields[f"{prefix}_phone"] = party["phone"]
    return fields


def save_by_web(site, estimate, **patient):
    """Save through the pages as the front desk does: the save form from a result, then the details."""
    app, headers = site
    client = signed_in(app)
    form = {"csrf_token": token_of(client, "/"), "estimate": json.dumps(estimate)}
    assert client.post("/records/new", data=form).status_code == 200
    fields = {
        **form,
        "patient_name": "John Smith",
        "patient_birth_date": "1961-07-04",
        "patient_sex": "male",
        "diagnosis_codes": "M54.16",
        **{f"patient_{key}": value for key, value in patient.items()},
        **web_fields("provider", PROVIDER),
        **web_fields("facility", FACILITY),
    }
    response = client.post("/records/new", data=fields)
    assert response.status_code == 302, response.get_data(as_text=True)
    record_id = int(response.headers["Location"].rsplit("/", 1)[1])
    saved = app.test_client().get(f"/api/v1/saved-estimates/{record_id}", headers=headers).get_json()
    exported = client.get(f"/records/{record_id}/fhir")
    assert exported.mimetype == "application/fhir+json"
    return saved, json.loads(exported.get_data())


@pytest.fixture(scope="module")
def exports(site):
    """Bundles of the four kinds of record, saved through both doors."""
    return {
        "self-pay ASC (API)": save_by_api(site, SELF_PAY_ASC),
        "insured hospital (web)": save_by_web(site, INSURED_HOSPITAL, member_id="XEP123456789"),
        "Medicare office (API)": save_by_api(
            site,
            MEDICARE_OFFICE,
            {"name": "Cher", "birth_date": "1950-05-20", "member_id": "1EG4-TE5-MK73"},
            facility=False,
            diagnoses=(),
        ),
        "Medicare ASC (web)": save_by_web(site, MEDICARE_ASC, member_id="1EG4-TE5-MK73", relationship="spouse"),
    }


KINDS = ["self-pay ASC (API)", "insured hospital (web)", "Medicare office (API)", "Medicare ASC (web)"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_export_meets_every_rule_and_parses(exports, kind):
    saved, bundle = exports[kind]
    assert pct_rules.check(bundle) == {}
    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:  # real urn:uuid UUIDs, every one distinct
        assert entry["fullUrl"].startswith("urn:uuid:")
        assert str(uuid.UUID(entry["fullUrl"][9:])) == entry["fullUrl"][9:]
    assert len({e["fullUrl"] for e in bundle["entry"]}) == len(bundle["entry"])
    assert bundle["identifier"]["value"] == saved["number"]


def claims(bundle):
    return {
        pct_rules.claim_kind(e["resource"]): e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Claim"
    }


def one(bundle, kind):
    (found,) = pct_rules.resources(bundle, kind)
    return found


@pytest.mark.parametrize(
    ("kind", "claim_kinds", "place", "bill"),
    [
        ("self-pay ASC (API)", ["summary", "professional", "institutional"], "24", "0831"),
        ("insured hospital (web)", ["summary", "professional", "institutional"], "22", "0131"),
        ("Medicare office (API)", ["summary", "professional"], "11", None),
        ("Medicare ASC (web)", ["summary", "professional"], "24", None),
    ],
)
def test_claims_items_and_totals_come_from_the_answer(exports, kind, claim_kinds, place, bill):
    saved, bundle = exports[kind]
    answer = saved["answer"]
    found = claims(bundle)
    assert list(found) == claim_kinds
    lines = answer.get("lines") or [{**answer, "line": 1}]
    for component, claim_kind in (("professional", "professional"), ("facility", "institutional")):
        expected = [(line, c) for line in lines for c in line["components"] if c["component"] == component]
        if not expected:
            assert claim_kind not in found
            continue
        claim = found[claim_kind]
        assert [item["sequence"] for item in claim["item"]] == list(range(1, len(expected) + 1))
        for item, (line, fee) in zip(claim["item"], expected, strict=True):
            coding = item["productOrService"]["coding"][0]
            assert (coding["code"], coding["display"]) == (line["cpt_code"], line["description"])
            assert item["net"] == {"value": fee["allowed_amount"]["expected"], "currency": "USD"}
            assert item["quantity"]["value"] == line["units"]
            assert round(item["unitPrice"]["value"] * line["units"], 2) == fee["allowed_amount"]["expected"]
            assert item["servicedDate"] == answer["date_of_service"]
            assert item["locationCodeableConcept"]["coding"][0]["code"] == place
            assert item["extension"][0]["valueString"] == line["description"]
            modifiers = [
                (m["coding"][0]["system"].rsplit("/", 1)[1], m["coding"][0]["code"]) for m in item.get("modifier", [])
            ]
            systems = {"50": "cpt", "RT": "HCPCSReleaseCodeSets", "LT": "HCPCSReleaseCodeSets"}
            assert modifiers == [(systems[m], m) for m in line["modifiers"]]
        assert claim["total"]["value"] == round(sum(item["net"]["value"] for item in claim["item"]), 2)
    summary_total = found["summary"]["total"]["value"]
    assert summary_total == round(sum(c["total"]["value"] for k, c in found.items() if k != "summary"), 2)
    assert summary_total == pytest.approx(answer["allowed_amount"]["expected"], abs=0.01 * len(lines))
    if bill:
        info = found["institutional"]["supportingInfo"][0]
        assert info["code"]["coding"][0]["code"] == bill
        assert found["institutional"]["provider"]["reference"] == next(
            e["fullUrl"] for e in bundle["entry"] if e["resource"].get("name") == FACILITY["name"]
        )


def test_self_pay_and_insured_coverage_insurer_and_disclaimers(exports):
    saved, bundle = exports["self-pay ASC (API)"]
    coverage, patient = one(bundle, "Coverage"), one(bundle, "Patient")
    patient_url = next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is patient)
    kinds = {e["url"].rsplit("/", 1)[1]: e for e in coverage["extension"]}
    assert kinds["extension-Coverage.kind"]["valueCode"] == "self-pay" and kinds["selfPayDeclared"]["valueBoolean"]
    assert coverage["payor"] == [{"reference": patient_url}] and "subscriberId" not in coverage
    assert coverage["type"]["coding"][0]["code"] == "81"
    assert all("insurer" not in claim for claim in claims(bundle).values())
    assert not [o for o in pct_rules.resources(bundle, "Organization") if pct_rules.codes(o["type"][0]) == ["pay"]]
    disclaimers = [e["valueString"] for e in claims(bundle)["professional"]["extension"]]
    assert "Good Faith Estimate for a self-pay patient" in disclaimers[0]
    assert disclaimers[1:] == saved["answer"]["warnings"]

    saved, bundle = exports["insured hospital (web)"]
    coverage = one(bundle, "Coverage")
    payer = next(o for o in pct_rules.resources(bundle, "Organization") if pct_rules.codes(o["type"][0]) == ["pay"])
    payer_url = next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is payer)
    assert payer["name"] == saved["answer"]["payer_name"]
    assert coverage["payor"] == [{"reference": payer_url}] and coverage["subscriberId"] == "XEP123456789"
    assert (
        coverage["class"][0]["name"] == saved["answer"]["payer_name"] and coverage["type"]["coding"][0]["code"] == "5"
    )
    assert coverage["period"] == {"start": "2026-12-15", "end": "2026-12-15"}
    assert all(claim["insurer"] == {"reference": payer_url} for claim in claims(bundle).values())
    disclaimers = [e["valueString"] for e in claims(bundle)["summary"]["extension"]]
    assert not any("Good Faith Estimate for a self-pay" in text for text in disclaimers)
    assert disclaimers[1:] == saved["answer"]["warnings"]
    assert one(exports["Medicare office (API)"][1], "Coverage")["type"]["coding"][0]["code"] == "1"
    relationship = one(exports["Medicare ASC (web)"][1], "Coverage")["relationship"]["coding"][0]["code"]
    assert relationship == "spouse"


def test_patient_organizations_and_diagnoses(exports):
    _, bundle = exports["self-pay ASC (API)"]
    patient = one(bundle, "Patient")
    assert patient["name"] == [{"text": "Jane Q. Doe", "family": "Doe", "given": ["Jane", "Q."]}]
    assert patient["gender"] == "female" and patient["birthDate"] == "1970-02-03"
    assert patient["identifier"][0]["value"]
    provider = next(o for o in pct_rules.resources(bundle, "Organization") if o["name"] == PROVIDER["name"])
    assert pct_rules.codes(provider["type"][0]) == ["prov"]
    tin = next(i for i in provider["identifier"] if i["system"] == pct_rules.TIN)
    assert tin["value"] == "123456789" and pct_rules.codes(tin["type"], pct_rules.V2_0203) == ["TAX"]
    assert provider["telecom"] == [{"system": "phone", "value": "404-555-0100", "use": "work"}]
    professional = claims(bundle)["professional"]
    assert [(d["sequence"], d["type"][0]["coding"][0]["code"]) for d in professional["diagnosis"]] == [
        (1, "principal"),
        (2, "secondary"),
    ]
    taxonomy = professional["provider"]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"]
    assert taxonomy == "208VP0014X"  # the default for a provider that gave none
    facility_info = professional["supportingInfo"][0]
    assert pct_rules.codes(facility_info["category"]) == ["servicefacility"]
    institutional = claims(bundle)["institutional"]
    assert institutional["provider"]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "261QA1903X"
    assert one(exports["Medicare office (API)"][1], "Patient")["name"] == [{"text": "Cher", "family": "Cher"}]
    assert one(exports["Medicare office (API)"][1], "Patient")["gender"] == "unknown"


def test_the_export_is_the_same_each_time(site, exports):
    app, headers = site
    saved, bundle = exports["self-pay ASC (API)"]
    again = app.test_client().get(f"/api/v1/saved-estimates/{saved['id']}/fhir", headers=headers).get_json()
    assert again == bundle


def _drop(path):
    """A breaker that deletes ``path`` (keys and list positions; ``*`` for every item) from a Bundle."""

    def apply(bundle):
        def walk(node, keys):
            if len(keys) == 1:
                if keys[0] == "*":
                    node.clear()
                elif isinstance(node, dict):
                    node.pop(keys[0], None)
                else:
                    del node[keys[0]]
                return
            children = node if keys[0] == "*" else [node[keys[0]]]
            for child in children:
                walk(child, keys[1:])

        walk(bundle, path)

    return apply


def _claim_path(position, *rest):
    return ["entry", position, "resource", *rest]


def _entry_of(bundle, kind):
    return next(i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == kind)


#: For every rule, a way to take out of a conforming export what it checks (the self-pay ASC Bundle's
#: entries: 0 Summary, 1 professional, 2 institutional, then Patient, Organizations, Coverage).
BREAKERS = {
    "bundle_identifier": _drop(["identifier"]),
    "bundle_type": lambda b: b.update(type="document"),
    "bundle_timestamp": _drop(["timestamp"]),
    "bundle_full_urls": _drop(["entry", 3, "fullUrl"]),
    "bundle_gfe_entries": lambda b: b.update(entry=b["entry"][:1] + b["entry"][3:]),
    "bundle_patients": lambda b: b.update(entry=[e for e in b["entry"] if e["resource"]["resourceType"] != "Patient"]),
    "bundle_coverage": lambda b: b["entry"].append(copy.deepcopy(b["entry"][-1])),
    "pct_gfe_bundle_1": lambda b: b.update(
        entry=[e for e in b["entry"] if e["resource"]["resourceType"] != "Organization"]
    ),
    "pct_gfe_bundle_2": lambda b: b["entry"][3].update(fullUrl=f"urn:uuid:{uuid.uuid4()}"),
    "pct_gfe_bundle_3": lambda b: b["entry"].reverse(),
    "claim_use": lambda b: b["entry"][1]["resource"].update(use="claim"),
    "claim_base": _drop(_claim_path(2, "created")),
    "claim_patient": lambda b: b["entry"][1]["resource"].update(patient={"reference": "Patient/nobody"}),
    "claim_insurer": lambda b: b["entry"][0]["resource"].update(insurer={"reference": b["entry"][3]["fullUrl"]}),
    "claim_coverage": lambda b: b["entry"][2]["resource"]["insurance"][0].update(
        coverage={"reference": b["entry"][3]["fullUrl"]}
    ),
    "claim_total": _drop(_claim_path(0, "total")),
    "claim_diagnosis_types": _drop(_claim_path(1, "diagnosis", 1, "type")),
    "summary_provider": _drop(_claim_path(0, "provider", "extension")),
    "summary_nothing_itemised": lambda b: b["entry"][0]["resource"].update(item=b["entry"][1]["resource"]["item"]),
    "gfe_plac": _drop(_claim_path(2, "identifier", 0, "type")),
    "gfe_provider_taxonomy": _drop(_claim_path(1, "provider", "extension")),
    "gfe_provider": lambda b: b["entry"][2]["resource"]["provider"].update(reference=b["entry"][3]["fullUrl"]),
    "professional_items": _drop(_claim_path(1, "item", 0, "unitPrice")),
    "claim_items_base": _drop(_claim_path(2, "item", 0, "productOrService")),
    "pct_cpt_display": _drop(_claim_path(1, "item", 0, "modifier", 0, "coding", 0, "display")),
    "professional_service_facility": lambda b: b["entry"][1]["resource"]["supportingInfo"][0].update(
        valueReference={"reference": b["entry"][3]["fullUrl"]}
    ),
    "institutional_type_of_bill": _drop(_claim_path(2, "supportingInfo")),
    "us_core_patient": _drop(_claim_path(3, "gender")),
    "pct_organization": _drop(_claim_path(4, "identifier", 1, "type")),
    "pct_coverage": _drop(_claim_path(-1, "_subscriberId")),
    "pct_coverage_1_and_2": lambda b: b["entry"][-1]["resource"]["extension"][0].update(valueCode="insurance"),
}


def test_every_rule_has_a_breaker():
    assert sorted(BREAKERS) == sorted(rule.__name__ for rule in pct_rules.RULES)


@pytest.mark.parametrize("rule", pct_rules.RULES, ids=lambda rule: rule.__name__)
def test_each_rule_fails_without_what_it_checks(exports, rule):
    _, bundle = exports["self-pay ASC (API)"]
    assert rule(bundle) == []
    broken = copy.deepcopy(bundle)
    BREAKERS[rule.__name__](broken)
    assert rule(broken), rule.__doc__


def test_the_web_export_and_the_api_export_of_a_record_are_one(site, exports):
    app, headers = site
    saved, bundle = exports["insured hospital (web)"]
    by_api = app.test_client().get(f"/api/v1/saved-estimates/{saved['id']}/fhir", headers=headers).get_json()
    assert by_api == bundle
    assert html.escape(saved["number"]) == saved["number"]
