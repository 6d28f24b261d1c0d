"""A saved Good Faith Estimate as a Da Vinci Patient Cost Transparency GFE Bundle (FHIR R4 JSON)."""

from ..core.glossary import GOOD_FAITH_NOTICE
from .models import as_utc

PCT = "http://hl7.org/fhir/us/davinci-pct/StructureDefinition/"
PROFILES = {
    "bundle": PCT + "davinci-pct-gfe-bundle",
    "claim": PCT + "davinci-pct-gfe-professional",
    "organization": PCT + "davinci-pct-organization",
    "patient": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient",
}
DISCLAIMER = PCT + "gfeDisclaimer"
NPI = "http://hl7.org/fhir/sid/us-npi"
TIN = "urn:oid:2.16.840.1.113883.4.4"
CPT = "http://www.ama-assn.org/go/cpt"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
NUMBERS = "urn:procedure-cost-estimator:gfe-number"
MEDIA_TYPE = "application/fhir+json"


def _address(address):
    if not address:
        return []
    return [
        {
            "line": [address.get("line", "")],
            "city": address.get("city", ""),
            "state": address.get("state", ""),
            "postalCode": address.get("postal_code", ""),
            "country": "US",
        }
    ]


def _organization(key, party):
    return {
        "resourceType": "Organization",
        "id": key,
        "meta": {"profile": [PROFILES["organization"]]},
        "identifier": [{"system": NPI, "value": party["npi"]}, {"system": TIN, "value": party["tin"]}],
        "active": True,
        "name": party["name"],
        "address": _address(party.get("address")),
    }


def _money(value):
    return {"value": round(float(value), 2), "currency": "USD"}


def bundle(record):
    """The Bundle of a saved estimate: Patient, provider (and facility) Organizations, the GFE Claim."""
    details, answer = record.details, record.answer
    lines = answer["lines"] if "lines" in answer else [{**answer, "line": 1}]
    created = as_utc(record.created_at).isoformat(timespec="seconds")
    patient = {
        "resourceType": "Patient",
        "id": "patient",
        "meta": {"profile": [PROFILES["patient"]]},
        "name": [{"text": details["patient"]["name"]}],
        "birthDate": str(details["patient"]["birth_date"]),
    }
    entries = [("patient", patient), ("provider", _organization("provider", details["provider"]))]
    if details.get("facility"):
        entries.append(("facility", _organization("facility", details["facility"])))
    claim = {
        "resourceType": "Claim",
        "id": "gfe",
        "meta": {"profile": [PROFILES["claim"]]},
        "extension": [{"url": DISCLAIMER, "valueString": GOOD_FAITH_NOTICE}],
        "identifier": [{"system": NUMBERS, "value": record.number}],
        "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
        "use": "predetermination",
        "patient": {"reference": "urn:uuid:patient"},
        "created": created,
        "provider": {"reference": "urn:uuid:provider"},
        "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
        "insurance": [
            {
                "sequence": 1,
                "focal": True,
                "coverage": {
                    "display": "Self-pay or uninsured: no coverage"
                    if answer.get("good_faith_estimate")
                    else answer.get("payer_name", "")
                },
            }
        ],
        "item": [
            {
                "sequence": line["line"],
                "productOrService": {"coding": [{"system": CPT, "code": line["cpt_code"]}]},
                **({"modifier": [{"coding": [{"code": m}]} for m in line["modifiers"]]} if line["modifiers"] else {}),
                "quantity": {"value": line["units"]},
                "net": _money(line["allowed_amount"]["expected"]),
            }
            for line in lines
        ],
        "total": _money(answer["allowed_amount"]["expected"]),
    }
    if details.get("diagnosis_codes"):
        claim["diagnosis"] = [
            {"sequence": i, "diagnosisCodeableConcept": {"coding": [{"system": ICD10, "code": code}]}}
            for i, code in enumerate(details["diagnosis_codes"], start=1)
        ]
    if details.get("facility"):
        claim["careTeam"] = [{"sequence": 1, "provider": {"reference": "urn:uuid:facility"}}]
    entries.append(("gfe", claim))
    return {
        "resourceType": "Bundle",
        "id": f"gfe-bundle-{record.id}",
        "meta": {"profile": [PROFILES["bundle"]]},
        "identifier": {"system": NUMBERS, "value": record.number},
        "type": "collection",
        "timestamp": created,
        "entry": [{"fullUrl": f"urn:uuid:{key}", "resource": resource} for key, resource in entries],
    }
