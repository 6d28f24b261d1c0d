"""The rules of the Da Vinci PCT STU2 (2.0.1) profiles that a GFE Bundle must meet, written from the guide's
FHIR Shorthand (``Profile:`` files of HL7/davinci-pct input/fsh), each named after the line it checks.

Every rule takes the Bundle (FHIR JSON) and returns its problems (an empty list: it holds). Resource rules
apply to each resource of their kind in the Bundle; ``check`` runs them all. They read FHIR JSON as it is,
so they judge the guide's own examples and our exports alike.
"""

PCT = "http://hl7.org/fhir/us/davinci-pct/"
SUMMARY_TYPE = PCT + "CodeSystem/PCTEstimateTypeSummaryCSTemporaryTrialUse"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
DAR = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
TAXONOMY = PCT + "StructureDefinition/providerTaxonomy"
NUCC = "http://nucc.org/provider-taxonomy"
SERVICE_DESCRIPTION = PCT + "StructureDefinition/serviceDescription"
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
CPT = "http://www.ama-assn.org/go/cpt"
SUPPORTING_INFO = PCT + "CodeSystem/PCTSupportingInfoType"
COVERAGE_KIND = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Coverage.kind"
TIN = "urn:oid:2.16.840.1.113883.4.4"
GENDERS = ("male", "female", "other", "unknown")


def resources(bundle, kind=None):
    return [
        e.get("resource", {})
        for e in bundle.get("entry", [])
        if kind is None or e.get("resource", {}).get("resourceType") == kind
    ]


def codes(concept, system=None):
    return [c.get("code") for c in (concept or {}).get("coding", []) if system is None or c.get("system") == system]


def claim_kind(claim):
    """summary, professional or institutional: a Claim's GFE kind by its type."""
    if "estimate-summary" in codes(claim.get("type"), SUMMARY_TYPE):
        return "summary"
    for kind in ("professional", "institutional"):
        if kind in codes(claim.get("type"), CLAIM_TYPE):
            return kind
    return None


def resolve(bundle, reference):
    """The resource a reference names: an entry whose fullUrl is it, or ends with it (``Patient/p1``)."""
    if not reference:
        return None
    for entry in bundle.get("entry", []):
        url = entry.get("fullUrl", "")
        if url == reference or url.endswith("/" + reference):
            return entry.get("resource")
    return None


def _refers_to(bundle, reference, *kinds):
    target = resolve(bundle, (reference or {}).get("reference"))
    return target is not None and target.get("resourceType") in kinds


def _extensions(element, url):
    return [e for e in (element or {}).get("extension", []) if e.get("url") == url]


def _references(value):
    """Every ``reference`` string anywhere in a JSON value."""
    stack, out = [value], []
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if key == "reference" and isinstance(inner, str):
                    out.append(inner)
                else:
                    stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
    return out


# The Bundle (pct_gfe_bundle.fsh) -----------------------------------------------------------------------


def bundle_identifier(bundle):
    """PCTGFEBundle: identifier 1..1"""
    return [] if (bundle.get("identifier") or {}).get("value") else ["no identifier"]


def bundle_type(bundle):
    """PCTGFEBundle: type = #collection (exactly)"""
    return [] if bundle.get("type") == "collection" else [f"type {bundle.get('type')!r}"]


def bundle_timestamp(bundle):
    """PCTGFEBundle: timestamp 1..1"""
    return [] if bundle.get("timestamp") else ["no timestamp"]


def bundle_full_urls(bundle):
    """PCTGFEBundle: entry 1..*, entry.fullUrl 1..1, entry.search/request/response 0..0"""
    entries = bundle.get("entry", [])
    problems = [] if entries else ["no entries"]
    for i, entry in enumerate(entries):
        if not entry.get("fullUrl"):
            problems.append(f"entry {i} has no fullUrl")
        problems += [f"entry {i} has {key}" for key in ("search", "request", "response") if key in entry]
    return problems


def bundle_gfe_entries(bundle):
    """PCTGFEBundle: entry[gfe] 2..* (PCTGFESummary or PCTGFEProfessional or PCTGFEInstitutional)"""
    gfes = [c for c in resources(bundle, "Claim") if claim_kind(c)]
    return [] if len(gfes) >= 2 else [f"{len(gfes)} GFE Claims"]


def bundle_patients(bundle):
    """PCTGFEBundle: entry[patient] 1..2"""
    count = len(resources(bundle, "Patient"))
    return [] if 1 <= count <= 2 else [f"{count} Patients"]


def bundle_coverage(bundle):
    """PCTGFEBundle: entry[coverage] 0..1"""
    count = len(resources(bundle, "Coverage"))
    return [] if count <= 1 else [f"{count} Coverages"]


def pct_gfe_bundle_1(bundle):
    """pct-gfe-bundle-1: SHALL have a submitting provider or submitting organization"""
    return [] if resources(bundle, "Practitioner") or resources(bundle, "Organization") else ["no provider"]


def pct_gfe_bundle_2(bundle):
    """pct-gfe-bundle-2: all references resources SHALL be contained within the Bundle (its FHIRPath: every
    reference not starting with # is a fullUrl, or the end of one)"""
    urls = "|".join(e.get("fullUrl", "") for e in bundle.get("entry", [])) + "|"
    return [
        f"reference {ref} is not in the Bundle"
        for ref in _references(resources(bundle))
        if not ref.startswith("#") and ref + "|" not in urls
    ]


def pct_gfe_bundle_3(bundle):
    """pct-gfe-bundle-3: The first entry SHALL be an estimate-summary GFE"""
    first = (bundle.get("entry") or [{}])[0].get("resource", {})
    ok = first.get("resourceType") == "Claim" and claim_kind(first) == "summary"
    return [] if ok else ["the first entry is not the GFE Summary"]


# Claims (pct_gfe_summary.fsh, pct_gfe_professional.fsh, pct_gfe_institutional.fsh) ------------------------


def _claims(bundle, *kinds):
    return [c for c in resources(bundle, "Claim") if claim_kind(c) in kinds]


def claim_use(bundle):
    """PCTGFESummary, PCTGFEProfessional, PCTGFEInstitutional: use = #predetermination"""
    return [
        f"use {c.get('use')!r}"
        for c in _claims(bundle, "summary", "professional", "institutional")
        if c.get("use") != "predetermination"
    ]


def claim_base(bundle):
    """Claim (base, required by every GFE): status, created, priority, patient 1..1, insurance 1..*"""
    problems = []
    for claim in _claims(bundle, "summary", "professional", "institutional"):
        problems += [
            f"{claim_kind(claim)}: no {key}"
            for key in ("status", "created", "priority", "patient", "insurance")
            if not claim.get(key)
        ]
        if codes(claim.get("priority")) and codes(claim["priority"])[0] not in ("stat", "normal", "deferred"):
            problems.append("priority not from process-priority")
    return problems


def claim_patient(bundle):
    """Claim.patient only Reference(USCorePatientProfile)"""
    return [
        f"{claim_kind(c)}: patient"
        for c in _claims(bundle, "summary", "professional", "institutional")
        if not _refers_to(bundle, c.get("patient"), "Patient")
    ]


def claim_insurer(bundle):
    """Claim.insurer only Reference(PCTOrganization)"""
    return [
        f"{claim_kind(c)}: insurer"
        for c in _claims(bundle, "summary", "professional", "institutional")
        if "insurer" in c and not _refers_to(bundle, c["insurer"], "Organization")
    ]


def claim_coverage(bundle):
    """Claim.insurance.coverage only Reference(PCTCoverage)"""
    return [
        f"{claim_kind(c)}: insurance.coverage"
        for c in _claims(bundle, "summary", "professional", "institutional")
        for insurance in c.get("insurance", [])
        if not _refers_to(bundle, insurance.get("coverage"), "Coverage")
    ]


def claim_total(bundle):
    """PCTGFESummary, PCTGFEProfessional, PCTGFEInstitutional: total 1..1"""
    return [
        f"{claim_kind(c)}: no total"
        for c in _claims(bundle, "summary", "professional", "institutional")
        if (c.get("total") or {}).get("value") is None
    ]


def claim_diagnosis_types(bundle):
    """DiagnosisSlicing: diagnosis[principal].type 1..1 = #principal, sequence = 1; other slices' type 1..1"""
    problems = []
    for claim in _claims(bundle, "summary", "professional", "institutional"):
        for diagnosis in claim.get("diagnosis", []):
            kinds = [code for concept in diagnosis.get("type", []) for code in codes(concept)]
            if not kinds:
                problems.append(f"{claim_kind(claim)}: diagnosis {diagnosis.get('sequence')} has no type")
            if "principal" in kinds and diagnosis.get("sequence") != 1:
                problems.append(f"{claim_kind(claim)}: the principal diagnosis is not sequence 1")
    return problems


def summary_provider(bundle):
    """PCTGFESummary: provider.reference 0..0, provider.extension[dataAbsentReason] 1..1 = #not-applicable"""
    problems = []
    for claim in _claims(bundle, "summary"):
        provider = claim.get("provider") or {}
        if any(key in provider for key in ("reference", "identifier", "display", "type")):
            problems.append("the Summary names a provider")
        if [e.get("valueCode") for e in _extensions(provider, DAR)] != ["not-applicable"]:
            problems.append("the Summary's provider has no data-absent-reason not-applicable")
    return problems


def summary_nothing_itemised(bundle):
    """PCTGFESummary: item 0..0, supportingInfo 0..0, facility 0..0, enterer 0..0, subType 0..0"""
    return [
        f"the Summary has {key}"
        for claim in _claims(bundle, "summary")
        for key in ("item", "supportingInfo", "facility", "enterer", "subType")
        if key in claim
    ]


def gfe_plac(bundle):
    """PCTGFEProfessional, PCTGFEInstitutional: identifier[PLAC] 1..1 (type v2-0203#PLAC), value 1..1"""
    problems = []
    for claim in _claims(bundle, "professional", "institutional"):
        placs = [i for i in claim.get("identifier", []) if "PLAC" in codes(i.get("type"), V2_0203)]
        if len(placs) != 1 or not placs[0].get("value"):
            problems.append(f"{claim_kind(claim)}: {len(placs)} PLAC identifiers")
    return problems


def gfe_provider_taxonomy(bundle):
    """PCTGFEProfessional, PCTGFEInstitutional: provider.extension[providerTaxonomy] 1..1 (a NUCC code)"""
    problems = []
    for claim in _claims(bundle, "professional", "institutional"):
        found = _extensions(claim.get("provider"), TAXONOMY)
        if len(found) != 1 or not codes(found[0].get("valueCodeableConcept"), NUCC):
            problems.append(f"{claim_kind(claim)}: provider taxonomy")
    return problems


def gfe_provider(bundle):
    """PCTGFEProfessional: provider only Reference(PCTOrganization or PCTPractitioner); PCTGFEInstitutional:
    only Reference(PCTOrganization)"""
    problems = [
        "professional: provider"
        for c in _claims(bundle, "professional")
        if not _refers_to(bundle, c.get("provider"), "Organization", "Practitioner")
    ]
    problems += [
        "institutional: provider"
        for c in _claims(bundle, "institutional")
        if not _refers_to(bundle, c.get("provider"), "Organization")
    ]
    return problems


def professional_items(bundle):
    """PCTGFEProfessional: item 1..50; item.extension[serviceDescription] 1..1; item.serviced[x] 1..1;
    item.unitPrice 1..1; item.net 1..1; item.quantity 1..1; item.locationCodeableConcept 1..1 (CMS place of
    service); item.modifier 0..4"""
    problems = []
    for claim in _claims(bundle, "professional"):
        items = claim.get("item", [])
        if not 1 <= len(items) <= 50:
            problems.append(f"{len(items)} items")
        for item in items:
            where = f"item {item.get('sequence')}"
            if len(_extensions(item, SERVICE_DESCRIPTION)) != 1 or not _extensions(item, SERVICE_DESCRIPTION)[0].get(
                "valueString"
            ):
                problems.append(f"{where}: service description")
            if not (item.get("servicedDate") or item.get("servicedPeriod")):
                problems.append(f"{where}: serviced")
            for key in ("unitPrice", "net", "quantity"):
                if not item.get(key):
                    problems.append(f"{where}: {key}")
            if not codes(item.get("locationCodeableConcept"), POS):
                problems.append(f"{where}: place of service")
            if len(item.get("modifier", [])) > 4:
                problems.append(f"{where}: more than 4 modifiers")
    return problems


def claim_items_base(bundle):
    """Claim (base): item.sequence 1..1, item.productOrService 1..1"""
    return [
        f"{claim_kind(c)}: item without sequence or productOrService"
        for c in _claims(bundle, "professional", "institutional")
        for item in c.get("item", [])
        if not item.get("sequence") or not codes(item.get("productOrService"))
    ]


def pct_cpt_display(bundle):
    """pct-cpt-display: CPT codes require a display value (item.productOrService.coding, item.modifier.coding)"""
    problems = []
    for claim in _claims(bundle, "professional", "institutional"):
        for item in claim.get("item", []):
            for concept in [item.get("productOrService") or {}, *item.get("modifier", [])]:
                for coding in concept.get("coding", []):
                    if coding.get("system") == CPT and not coding.get("display"):
                        problems.append(f"item {item.get('sequence')}: CPT {coding.get('code')} without display")
    return problems


def professional_service_facility(bundle):
    """PCTGFEProfessional: supportingInfo[serviceFacility].valueReference 1..1 only Reference(PCTOrganization)"""
    return [
        "serviceFacility"
        for claim in _claims(bundle, "professional")
        for info in claim.get("supportingInfo", [])
        if "servicefacility" in codes(info.get("category"), SUPPORTING_INFO)
        and not _refers_to(bundle, info.get("valueReference"), "Organization")
    ]


def institutional_type_of_bill(bundle):
    """PCTGFEInstitutional: supportingInfo[typeOfBill] 1..1, its code 1..1"""
    problems = []
    for claim in _claims(bundle, "institutional"):
        bills = [
            i for i in claim.get("supportingInfo", []) if "typeofbill" in codes(i.get("category"), SUPPORTING_INFO)
        ]
        if len(bills) != 1 or not codes(bills[0].get("code")):
            problems.append(f"{len(bills)} types of bill")
    return problems


# Patient, Organization, Coverage ------------------------------------------------------------------------


def us_core_patient(bundle):
    """USCorePatientProfile: identifier 1..* (system, value 1..1), name 1..* (family or given), gender 1..1"""
    problems = []
    for patient in resources(bundle, "Patient"):
        identifiers = patient.get("identifier", [])
        if not identifiers or not all(i.get("system") and i.get("value") for i in identifiers):
            problems.append("identifier")
        if not patient.get("name") or not all(n.get("family") or n.get("given") for n in patient["name"]):
            problems.append("name")
        if patient.get("gender") not in GENDERS:
            problems.append("gender")
    return problems


def pct_organization(bundle):
    """PCTOrganization: type 1..*, name 1..1 (US Core), active 1..1 (US Core); identifier[tin] has the
    pattern type v2-0203#TAX"""
    problems = []
    for organization in resources(bundle, "Organization"):
        name = organization.get("name", "?")
        if not organization.get("type") or not all(codes(t) for t in organization["type"]):
            problems.append(f"{name}: type")
        if not organization.get("name"):
            problems.append("an organization without a name")
        if organization.get("active") is None:
            problems.append(f"{name}: active")
        for identifier in organization.get("identifier", []):
            if identifier.get("system") == TIN and "TAX" not in codes(identifier.get("type"), V2_0203):
                problems.append(f"{name}: a TIN without the TAX type")
    return problems


def pct_coverage(bundle):
    """PCTCoverage: extension[coverage-kind] 1..1 (valueCode 1..1); subscriberId 1..1 (for self-pay its
    data-absent-reason not-applicable); beneficiary, relationship (US Core), status 1..1; payor 1..* (a payer
    Organization, or for self-pay the Patient); class.name 1..1"""
    problems = []
    for coverage in resources(bundle, "Coverage"):
        kinds = [e.get("valueCode") for e in _extensions(coverage, COVERAGE_KIND)]
        if len(kinds) != 1 or not kinds[0]:
            problems.append("coverage-kind")
        absent = [e.get("valueCode") for e in _extensions(coverage.get("_subscriberId"), DAR)]
        if not coverage.get("subscriberId") and absent != ["not-applicable"]:
            problems.append("subscriberId")
        for key in ("status", "beneficiary", "relationship"):
            if not coverage.get(key):
                problems.append(key)
        if not _refers_to(bundle, coverage.get("beneficiary"), "Patient"):
            problems.append("beneficiary is no Patient of the Bundle")
        payors = coverage.get("payor", [])
        allowed = ("Patient", "RelatedPerson", "Organization") if kinds == ["self-pay"] else ("Organization",)
        if not payors or not all(_refers_to(bundle, p, *allowed) for p in payors):
            problems.append("payor")
        if any(not c.get("name") for c in coverage.get("class", [])):
            problems.append("class without name")
    return problems


def pct_coverage_1_and_2(bundle):
    """pct-coverage-1, pct-coverage-2: class and period SHALL be present if coverage-kind is insurance"""
    problems = []
    for coverage in resources(bundle, "Coverage"):
        if "insurance" in [e.get("valueCode") for e in _extensions(coverage, COVERAGE_KIND)]:
            problems += [f"insurance without {key}" for key in ("class", "period") if not coverage.get(key)]
    return problems


RULES = [
    bundle_identifier,
    bundle_type,
    bundle_timestamp,
    bundle_full_urls,
    bundle_gfe_entries,
    bundle_patients,
    bundle_coverage,
    pct_gfe_bundle_1,
    pct_gfe_bundle_2,
    pct_gfe_bundle_3,
    claim_use,
    claim_base,
    claim_patient,
    claim_insurer,
    claim_coverage,
    claim_total,
    claim_diagnosis_types,
    summary_provider,
    summary_nothing_itemised,
    gfe_plac,
    gfe_provider_taxonomy,
    gfe_provider,
    professional_items,
    claim_items_base,
    pct_cpt_display,
    professional_service_facility,
    institutional_type_of_bill,
    us_core_patient,
    pct_organization,
    pct_coverage,
    pct_coverage_1_and_2,
]


def check(bundle):
    """Every rule's problems, keyed by the rule's name (an empty dict: the Bundle meets them all)."""
    out = {}
    for rule in RULES:
        problems = rule(bundle)
        if problems:
            out[rule.__name__] = problems
    return out
