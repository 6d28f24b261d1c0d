"""A saved estimate as a Da Vinci Patient Cost Transparency GFE Bundle (FHIR R4 JSON), STU2 (2.0.1).

The Bundle holds, in this order: the GFE Summary, one GFE Claim per billing provider (professional: the
clinician's fees, billed by the provider; institutional: the facility fees, billed by the facility), the
Patient (US Core), the Organizations (provider, facility, payer) and a Coverage: the plan's, with the payer
Organization as its payor, or the guide's self-pay Coverage. Every reference is a ``urn:uuid:`` that names
an entry of the Bundle; the UUIDs are derived from the record's number, so an export says the same each time.
"""

import uuid

from ..core.glossary import GOOD_FAITH_NOTICE
from . import documents
from .details import SEXES, TAXONOMIES
from .models import as_utc

PCT = "http://hl7.org/fhir/us/davinci-pct/StructureDefinition/"
PCT_CODES = "http://hl7.org/fhir/us/davinci-pct/CodeSystem/"
PROFILES = {
    "bundle": PCT + "davinci-pct-gfe-bundle",
    "summary": PCT + "davinci-pct-gfe-summary",
    "professional": PCT + "davinci-pct-gfe-professional",
    "institutional": PCT + "davinci-pct-gfe-institutional",
    "organization": PCT + "davinci-pct-organization",
    "coverage": PCT + "davinci-pct-coverage",
    "patient": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient",
}
EXTENSIONS = {
    "disclaimer": PCT + "gfeDisclaimer",
    "service_description": PCT + "serviceDescription",
    "taxonomy": PCT + "providerTaxonomy",
    "self_pay_declared": PCT + "selfPayDeclared",
    "coverage_kind": "http://hl7.org/fhir/5.0/StructureDefinition/extension-Coverage.kind",
    "absent": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
}
SYSTEMS = {
    "npi": "http://hl7.org/fhir/sid/us-npi",
    "tin": "urn:oid:2.16.840.1.113883.4.4",
    "cpt": "http://www.ama-assn.org/go/cpt",
    "hcpcs": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "icd10": "http://hl7.org/fhir/sid/icd-10-cm",
    "identifier_type": "http://terminology.hl7.org/CodeSystem/v2-0203",
    "claim_type": "http://terminology.hl7.org/CodeSystem/claim-type",
    "priority": "http://terminology.hl7.org/CodeSystem/processpriority",
    "summary_type": PCT_CODES + "PCTEstimateTypeSummaryCSTemporaryTrialUse",
    "supporting_info": PCT_CODES + "PCTSupportingInfoType",
    "contact_purpose": PCT_CODES + "PCTOrgContactPurposeType",
    # the system the guide's own examples render for DiagnosisTypeCodes (examples/pct_gfe_instances.fsh)
    "diagnosis_type": "http://terminology.hl7.org/CodeSystem/diagnosistype",
    "place_of_service": "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set",
    "type_of_bill": "https://www.nubc.org/CodeSystem/TypeOfBill",
    "taxonomy": "http://nucc.org/provider-taxonomy",
    "organization_type": "http://terminology.hl7.org/CodeSystem/organization-type",
    "relationship": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
    "coverage_class": "http://terminology.hl7.org/CodeSystem/coverage-class",
    "payment_typology": "https://nahdo.org/sopt",
    "numbers": "urn:procedure-cost-estimator:gfe-number",
    "chart": "urn:procedure-cost-estimator:chart-number",
    "payer": "urn:procedure-cost-estimator:payer-id",
}
MEDIA_TYPE = "application/fhir+json"
#: The namespace of the Bundle's UUIDs (uuid5 of the record's number and the entry's role).
NAMESPACE = uuid.UUID("6f2b1c8e-3d4a-5b6c-8d7e-9f0a1b2c3d4e")

#: CMS place of service of each setting.
PLACE_OF_SERVICE = {
    "office": ("11", "Office"),
    "asc": ("24", "Ambulatory Surgical Center"),
    "hospital_outpatient": ("22", "On Campus-Outpatient Hospital"),
}
#: NUBC type of bill of a facility's fee, by setting (institutional GFE).
TYPE_OF_BILL = {
    "asc": ("0831", "Hospital - Ambulatory Surgery Center - Admit through discharge claim"),
    "hospital_outpatient": ("0131", "Hospital - Outpatient - Admit through discharge claim"),
}
#: Modifiers: the code system each belongs to, and its meaning.
MODIFIERS = {
    "50": ("cpt", "Bilateral procedure"),
    "RT": ("hcpcs", "Right side"),
    "LT": ("hcpcs", "Left side"),
}
#: Source of Payment Typology of each payer kind.
PAYMENT_TYPOLOGY = {
    "medicare": ("1", "MEDICARE"),
    "medicaid": ("2", "MEDICAID"),
    "commercial": ("5", "PRIVATE HEALTH INSURANCE"),
    "self_pay": ("81", "Self-pay"),
}
ORGANIZATION_TYPES = {"prov": "Healthcare Provider", "pay": "Payer"}
INSURED_DISCLAIMER = (
    "An estimate for an insured patient from the plan's benefits as given when it was made: not a promise of "
    "payment; the plan decides what it pays when it processes the claim."
)


def _coding(system, code, display=None):
    out = {"system": SYSTEMS[system], "code": code}
    if display:
        out["display"] = display
    return out


def _concept(system, code, display=None):
    return {"coding": [_coding(system, code, display)]}


def _money(value):
    return {"value": round(float(value), 2), "currency": "USD"}


def _address(address):
    return {
        "line": [address["line"]],
        "city": address["city"],
        "state": address["state"],
        "postalCode": address["postal_code"],
        "country": "US",
    }


class _Bundle:
    """The entries of one record's Bundle, each with its UUID."""

    def __init__(self, record):
        self.record = record
        self.entries = []

    def url(self, role):
        return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{self.record.number}/{role}')}"

    def ref(self, role):
        return {"reference": self.url(role)}

    def add(self, role, resource):
        self.entries.append({"fullUrl": self.url(role), "resource": resource})


def _organization(party, kind, name=None):
    """A PCT Organization: a provider or facility (NPI, TIN, address, the GFE contact) or a payer."""
    resource = {
        "resourceType": "Organization",
        "meta": {"profile": [PROFILES["organization"]]},
        "active": True,
        "type": [_concept("organization_type", kind, ORGANIZATION_TYPES[kind])],
        "name": name or party["name"],
    }
    if kind == "pay":
        resource["identifier"] = [{"system": SYSTEMS["payer"], "value": party}]
        return resource
    resource["identifier"] = [
        {"system": SYSTEMS["npi"], "value": party["npi"]},
        {
            "type": _concept("identifier_type", "TAX", "Tax ID number"),
            "system": SYSTEMS["tin"],
            "value": party["tin"].replace("-", ""),
        },
    ]
    if party.get("phone"):
        phone = {"system": "phone", "value": party["phone"], "use": "work"}
        resource["telecom"] = [phone]
        resource["contact"] = [
            {
                "purpose": _concept("contact_purpose", "GFERELATED", "GFE related"),
                "name": {"text": party["name"]},
                "telecom": [phone],
            }
        ]
    resource["address"] = [_address(party["address"])]
    return resource


def _patient(record):
    patient = record.details["patient"]
    words = patient["name"].split()
    name = {"text": patient["name"], "family": words[-1]}
    if len(words) > 1:
        name["given"] = words[:-1]
    if patient.get("chart_number"):
        identifier = {"system": SYSTEMS["chart"], "value": patient["chart_number"]}
    else:  # the patient as named in this record
        identifier = {"system": SYSTEMS["numbers"], "value": record.number}
    return {
        "resourceType": "Patient",
        "meta": {"profile": [PROFILES["patient"]]},
        "identifier": [identifier],
        "name": [name],
        "gender": patient.get("sex", "unknown") if patient.get("sex", "unknown") in SEXES else "unknown",
        "birthDate": str(patient["birth_date"]),
    }


def _coverage(bundle, answer, details, kind):
    """The plan's PCT Coverage (payor: the payer Organization), or the guide's self-pay Coverage."""
    patient = details["patient"]
    code, display = PAYMENT_TYPOLOGY.get(kind, PAYMENT_TYPOLOGY["commercial"])
    coverage = {
        "resourceType": "Coverage",
        "meta": {"profile": [PROFILES["coverage"]]},
        "extension": [
            {"url": EXTENSIONS["coverage_kind"], "valueCode": "self-pay" if kind == "self_pay" else "insurance"}
        ],
        "status": "active",
        "type": _concept("payment_typology", code, display),
        "beneficiary": bundle.ref("patient"),
    }
    relationship = patient.get("relationship", "self")
    coverage["relationship"] = _concept("relationship", relationship, relationship.capitalize())
    if kind == "self_pay":
        coverage["extension"].append({"url": EXTENSIONS["self_pay_declared"], "valueBoolean": True})
        coverage["_subscriberId"] = {"extension": [{"url": EXTENSIONS["absent"], "valueCode": "not-applicable"}]}
        coverage["payor"] = [bundle.ref("patient")]
        return coverage
    coverage["subscriberId"] = patient.get("member_id") or ""
    coverage["period"] = {"start": answer["date_of_service"], "end": answer["date_of_service"]}
    coverage["payor"] = [bundle.ref("payer")]
    coverage["class"] = [
        {"type": _concept("coverage_class", "plan", "Plan"), "value": answer["payer_id"], "name": answer["payer_name"]}
    ]
    return coverage


def _disclaimers(answer):
    """The notice of the document, then every warning of the answer (what it leaves out among them)."""
    notice = GOOD_FAITH_NOTICE if answer.get("good_faith_estimate") else INSURED_DISCLAIMER
    texts = [notice, *answer.get("warnings", [])]
    return [{"url": EXTENSIONS["disclaimer"], "valueString": text} for text in dict.fromkeys(texts)]


def _diagnoses(details):
    return [
        {
            "sequence": i,
            "diagnosisCodeableConcept": _concept("icd10", code),
            "type": [_concept("diagnosis_type", "principal" if i == 1 else "secondary")],
        }
        for i, code in enumerate(details.get("diagnosis_codes") or [], start=1)
    ]


def _item(sequence, line, component, answer):
    """One item of a GFE Claim: a line's fee of one component."""
    code = line["cpt_code"]
    system = "hcpcs" if code[:1].isalpha() else "cpt"
    place, place_name = PLACE_OF_SERVICE[answer["setting"]]
    net = float(component["allowed_amount"]["expected"])
    units = int(line["units"])
    item = {
        "extension": [{"url": EXTENSIONS["service_description"], "valueString": line["description"]}],
        "sequence": sequence,
        "productOrService": _concept(system, code, line["description"]),
        "servicedDate": answer["date_of_service"],
        "locationCodeableConcept": _concept("place_of_service", place, place_name),
        "quantity": {"value": units},
        "unitPrice": {"value": round(net / units, 6), "currency": "USD"},
        "net": _money(net),
    }
    if line["modifiers"]:
        item["modifier"] = [
            _concept(MODIFIERS.get(m, ("hcpcs", None))[0], m, MODIFIERS.get(m, (None, None))[1])
            for m in line["modifiers"]
        ]
    return item


def _claim(bundle, kind, items, common, party_role, party, setting):
    """A GFE Claim of one billing provider: professional (the provider) or institutional (the facility)."""
    taxonomy = party["taxonomy"]
    claim = {
        "resourceType": "Claim",
        "meta": {"profile": [PROFILES[kind]]},
        "extension": common["disclaimers"],
        "identifier": [
            {
                "type": _concept("identifier_type", "PLAC", "Placer Identifier"),
                "system": SYSTEMS["numbers"],
                "value": f"{bundle.record.number}-{'P' if kind == 'professional' else 'I'}",
            }
        ],
        "status": "active",
        "type": _concept("claim_type", kind, kind.capitalize()),
        "use": "predetermination",
        "patient": bundle.ref("patient"),
        "created": common["created"],
        "provider": {
            **bundle.ref(party_role),
            "extension": [
                {
                    "url": EXTENSIONS["taxonomy"],
                    "valueCodeableConcept": _concept("taxonomy", taxonomy, TAXONOMIES.get(taxonomy)),
                }
            ],
        },
        "priority": _concept("priority", "normal", "Normal"),
        "insurance": [{"sequence": 1, "focal": True, "coverage": bundle.ref("coverage")}],
        "item": items,
        "total": _money(sum(item["net"]["value"] for item in items)),
    }
    if common["insurer"]:
        claim["insurer"] = common["insurer"]
    supporting = []
    if kind == "institutional":
        code, display = TYPE_OF_BILL[setting]
        supporting.append(
            {
                "sequence": 1,
                "category": _concept("supporting_info", "typeofbill", "Type of Bill"),
                "code": _concept("type_of_bill", code, display),
            }
        )
    elif common["facility"]:
        supporting.append(
            {
                "sequence": 1,
                "category": _concept("supporting_info", "servicefacility", "Service Facility"),
                "valueReference": bundle.ref("facility"),
            }
        )
    if supporting:
        claim["supportingInfo"] = supporting
    if common["diagnoses"]:
        claim["diagnosis"] = common["diagnoses"]
    return claim


def bundle(record):
    """The GFE Bundle of a saved estimate; the answer's warnings (the charges it leaves out among them) are
    disclaimers of the Summary and of every Claim."""
    details, answer = record.details, record.answer
    lines = documents.answer_lines(answer)
    created = as_utc(record.created_at).isoformat(timespec="seconds")
    kind = details.get("payer_kind") or ("self_pay" if answer.get("good_faith_estimate") else "commercial")
    insured = kind != "self_pay"
    out = _Bundle(record)
    common = {
        "created": created,
        "disclaimers": _disclaimers(answer),
        "insurer": out.ref("payer") if insured else None,
        "diagnoses": _diagnoses(details),
        "facility": bool(details.get("facility")),
    }
    by_component = {"professional": [], "facility": []}
    for line in lines:
        for component in line["components"]:
            group = by_component[component["component"]]
            group.append(_item(len(group) + 1, line, component, answer))
    claims = [_claim(out, "professional", by_component["professional"], common, "provider", details["provider"], None)]
    if by_component["facility"]:
        facility = details.get("facility")
        role = "facility" if facility else "provider"
        claims.append(
            _claim(
                out,
                "institutional",
                by_component["facility"],
                common,
                role,
                facility or details["provider"],
                answer["setting"],
            )
        )
    summary = {
        "resourceType": "Claim",
        "meta": {"profile": [PROFILES["summary"]]},
        "extension": common["disclaimers"],
        "status": "active",
        "type": _concept("summary_type", "estimate-summary", "Estimate Summary"),
        "use": "predetermination",
        "patient": out.ref("patient"),
        "billablePeriod": {"start": answer["date_of_service"], "end": answer["date_of_service"]},
        "created": created,
        "provider": {"extension": [{"url": EXTENSIONS["absent"], "valueCode": "not-applicable"}]},
        "priority": _concept("priority", "normal", "Normal"),
        "insurance": [{"sequence": 1, "focal": True, "coverage": out.ref("coverage")}],
        "total": _money(sum(claim["total"]["value"] for claim in claims)),
    }
    if insured:
        summary["insurer"] = out.ref("payer")
    if common["diagnoses"]:
        summary["diagnosis"] = common["diagnoses"]
    out.add("summary", summary)
    for claim in claims:
        out.add(claim["type"]["coding"][0]["code"], claim)
    out.add("patient", _patient(record))
    out.add("provider", _organization(details["provider"], "prov"))
    if details.get("facility"):
        out.add("facility", _organization(details["facility"], "prov"))
    if insured:
        out.add("payer", _organization(answer["payer_id"], "pay", name=answer["payer_name"]))
    out.add("coverage", _coverage(out, answer, details, kind))
    return {
        "resourceType": "Bundle",
        "meta": {"profile": [PROFILES["bundle"]]},
        "identifier": {"system": SYSTEMS["numbers"], "value": record.number},
        "type": "collection",
        "timestamp": created,
        "entry": out.entries,
    }
