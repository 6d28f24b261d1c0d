"""Build fee_schedules/procedures.csv from CMS's national physician fee schedule RVU file (SPEC section 11).

    python tools/procedure_catalog.py PPRRVU25_JAN1.csv fee_schedules/procedures.csv

Every code of status A, R or T with RVUs above 0 in total (non-facility or facility) is kept, with its
``26`` and ``TC`` rows where the code's global row is kept, and for each: its RVUs exactly as in the file
(where the file marks a practice expense NA it already gives the other setting's figure; the NA marks are
kept beside), bilateral, multiple-procedure and PC/TC indicators and global period.

What the project curates is kept from the catalog being rebuilt (the second argument): the rows of codes
the file does not list (such as 20971), and for every code its baseline range, add-on primaries, category
and description. Descriptions: CPT descriptors are the AMA's copyright and the file's are never copied.
The codes a spine and pain clinic bills most get a plain description of our own (``PLAIN``); HCPCS Level II
codes (a letter and four digits), a public code set, take the file's short description; every other CPT
code is described as ``CPT 12345`` (its descriptor is the AMA's: see the AMA's CPT code set).
"""

import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from estimator.core.glossary import COMPONENT_WORDS  # noqa: E402
from estimator.core.schedules import FILES  # noqa: E402

#: The columns of procedures.csv, as the loader reads them.
COLUMNS = tuple(column.name for column in FILES["procedures.csv"])
PAID = ("A", "R", "T")

#: Plain descriptions of our own for the codes a clinic of this kind bills most (E/M visits, spine and
#: pain procedures, their imaging and guidance, nerve studies, therapy).
PLAIN = {
    "99202": "Office visit for a new patient, straightforward (about 15 to 29 minutes)",
    "99204": "Office visit for a new patient, moderate complexity (about 45 to 59 minutes)",
    "99205": "Office visit for a new patient, high complexity (about 60 to 74 minutes)",
    "99211": "Office visit for an established patient, brief, which may not need a physician",
    "99212": "Office visit for an established patient, straightforward (about 10 to 19 minutes)",
    "99214": "Office visit for an established patient, moderate complexity (about 30 to 39 minutes)",
    "99215": "Office visit for an established patient, high complexity (about 40 to 54 minutes)",
    "20550": "Injection of a single tendon sheath or ligament",
    "20551": "Injection of a single tendon origin or insertion",
    "20600": "Injection or drainage of a small joint or bursa (such as a finger or toe), without ultrasound",
    "20604": "Injection or drainage of a small joint or bursa, with ultrasound guidance and a recorded image",
    "20605": "Injection or drainage of an intermediate joint or bursa (such as a wrist, elbow or ankle), without "
    "ultrasound",
    "20606": "Injection or drainage of an intermediate joint or bursa, with ultrasound guidance and a recorded image",
    "22510": "Vertebroplasty (bone cement injected through the skin), one vertebra of the neck or upper back",
    "22511": "Vertebroplasty (bone cement injected through the skin), one vertebra of the lower back or sacrum",
    "22512": "Vertebroplasty, each further vertebra (add-on code)",
    "22513": "Kyphoplasty (vertebral augmentation through the skin), one vertebra of the upper back",
    "22514": "Kyphoplasty (vertebral augmentation through the skin), one vertebra of the lower back",
    "22515": "Kyphoplasty, each further vertebra (add-on code)",
    "62270": "Spinal tap (lumbar puncture) for diagnosis",
    "62273": "Epidural blood patch",
    "62320": "Epidural injection between the vertebrae (interlaminar), neck or upper back, without imaging guidance",
    "63650": "Placement of spinal cord stimulator electrodes through the skin",
    "63685": "Placement or replacement of a spinal cord stimulator's pulse generator",
    "64400": "Nerve block injection, trigeminal nerve (any branch)",
    "64405": "Nerve block injection, greater occipital nerve",
    "64415": "Nerve block injection, brachial plexus",
    "64418": "Nerve block injection, suprascapular nerve",
    "64445": "Nerve block injection, sciatic nerve",
    "64447": "Nerve block injection, femoral nerve",
    "64450": "Nerve block injection, another peripheral nerve or branch",
    "64451": "Nerve block injection of the nerves to the sacroiliac joint, with imaging guidance",
    "64454": "Nerve block injection of the genicular nerves of the knee",
    "64455": "Injection of the plantar common digital nerves of the foot (such as for Morton's neuroma)",
    "64505": "Nerve block injection, sphenopalatine ganglion",
    "64510": "Nerve block injection, stellate ganglion (sympathetic nerves of the neck)",
    "64520": "Nerve block injection, lumbar or thoracic sympathetic nerves",
    "64530": "Nerve block injection, celiac plexus",
    "64624": "Destruction of the genicular nerves of the knee (such as by radiofrequency ablation)",
    "64625": "Radiofrequency ablation of the nerves to the sacroiliac joint, with imaging guidance",
    "64640": "Destruction of a peripheral nerve or branch (such as by radiofrequency ablation)",
    "72020": "X-ray of the spine, one view",
    "72040": "X-ray of the neck (cervical spine), 2 or 3 views",
    "72050": "X-ray of the neck (cervical spine), 4 or 5 views",
    "72070": "X-ray of the upper back (thoracic spine), 2 views",
    "72100": "X-ray of the lower back (lumbosacral spine), 2 or 3 views",
    "72110": "X-ray of the lower back (lumbosacral spine), at least 4 views",
    "72170": "X-ray of the pelvis, 1 or 2 views",
    "72220": "X-ray of the sacrum and tailbone, at least 2 views",
    "72125": "CT of the neck (cervical spine) without contrast",
    "72128": "CT of the upper back (thoracic spine) without contrast",
    "72131": "CT of the lower back (lumbar spine) without contrast",
    "72141": "MRI of the neck (cervical spine) without contrast",
    "72142": "MRI of the neck (cervical spine) with contrast",
    "72146": "MRI of the upper back (thoracic spine) without contrast",
    "72147": "MRI of the upper back (thoracic spine) with contrast",
    "72148": "MRI of the lower back (lumbar spine) without contrast",
    "72149": "MRI of the lower back (lumbar spine) with contrast",
    "72156": "MRI of the neck (cervical spine) without and then with contrast",
    "72157": "MRI of the upper back (thoracic spine) without and then with contrast",
    "72158": "MRI of the lower back (lumbar spine) without and then with contrast",
    "70551": "MRI of the brain without contrast",
    "73221": "MRI of an arm joint (such as the shoulder) without contrast",
    "73721": "MRI of a leg joint (such as the knee) without contrast",
    "76881": "Ultrasound of an arm or leg joint, complete",
    "76882": "Ultrasound of an arm or leg joint or structure, limited",
    "76942": "Ultrasound guidance for placing a needle",
    "77002": "Fluoroscopic (live X-ray) guidance for placing a needle",
    "77003": "Fluoroscopic (live X-ray) guidance for a spinal or paraspinal injection",
    "77012": "CT guidance for placing a needle",
    "95907": "Nerve conduction studies, 1 or 2 studies",
    "95908": "Nerve conduction studies, 3 or 4 studies",
    "95909": "Nerve conduction studies, 5 or 6 studies",
    "95910": "Nerve conduction studies, 7 or 8 studies",
    "95911": "Nerve conduction studies, 9 or 10 studies",
    "95912": "Nerve conduction studies, 11 or 12 studies",
    "95913": "Nerve conduction studies, 13 or more studies",
    "97110": "Therapeutic exercise, each 15 minutes",
    "97112": "Neuromuscular re-education, each 15 minutes",
    "97140": "Manual therapy, each 15 minutes",
    "97530": "Therapeutic activities, each 15 minutes",
    "97161": "Physical therapy evaluation, low complexity",
    "97162": "Physical therapy evaluation, moderate complexity",
    "97163": "Physical therapy evaluation, high complexity",
}

#: CPT sections by code range (the code set's published section ranges), for the category of a code the
#: project does not categorise itself.
SECTIONS = (
    ("00100", "01999", "Anesthesia"),
    ("10004", "19499", "Surgery: integumentary system"),
    ("20005", "29999", "Surgery: musculoskeletal system"),
    ("30000", "32999", "Surgery: respiratory system"),
    ("33016", "37799", "Surgery: cardiovascular system"),
    ("38100", "38999", "Surgery: hemic and lymphatic systems"),
    ("39000", "39599", "Surgery: mediastinum and diaphragm"),
    ("40490", "49999", "Surgery: digestive system"),
    ("50010", "53899", "Surgery: urinary system"),
    ("54000", "55899", "Surgery: male genital system"),
    ("55920", "58999", "Surgery: female genital system"),
    ("59000", "59899", "Surgery: maternity care and delivery"),
    ("60000", "60699", "Surgery: endocrine system"),
    ("61000", "64999", "Surgery: nervous system"),
    ("65091", "68899", "Surgery: eye and ocular adnexa"),
    ("69000", "69979", "Surgery: auditory system"),
    ("69990", "69990", "Surgery: operating microscope"),
    ("70010", "79999", "Radiology"),
    ("80047", "89398", "Pathology and laboratory"),
    ("90281", "99199", "Medicine"),
    ("99202", "99499", "Evaluation and management"),
    ("99500", "99607", "Medicine"),
)
LEVEL_II = {
    "A": "HCPCS: transportation, medical and surgical supplies",
    "B": "HCPCS: enteral and parenteral therapy",
    "C": "HCPCS: outpatient prospective payment system",
    "E": "HCPCS: durable medical equipment",
    "G": "HCPCS: procedures and professional services",
    "H": "HCPCS: behavioral health",
    "J": "HCPCS: drugs administered other than by mouth",
    "K": "HCPCS: durable medical equipment (temporary)",
    "L": "HCPCS: orthotics and prosthetics",
    "M": "HCPCS: medical services",
    "P": "HCPCS: pathology and laboratory",
    "Q": "HCPCS: temporary codes",
    "R": "HCPCS: diagnostic radiology",
    "S": "HCPCS: temporary national codes (non-Medicare)",
    "T": "HCPCS: state Medicaid codes",
    "U": "HCPCS: laboratory (temporary)",
    "V": "HCPCS: vision and hearing",
}


def category(code):
    if code[0].isalpha():
        return LEVEL_II.get(code[0], "HCPCS Level II")
    if code[-1] == "F":
        return "CPT Category II (performance measurement)"
    if code[-1] == "T":
        return "CPT Category III (emerging technology)"
    if code[-1] in "UM":
        return "CPT laboratory analyses"
    for low, high, name in SECTIONS:
        if low <= code <= high:
            return name
    return "CPT"


def description(code, file_description):
    if code in PLAIN:
        return PLAIN[code]
    if code[0].isalpha():
        return file_description.strip()
    return f"CPT {code}"


def rvu_rows(path):
    """The kept rows of the RVU file: (code, modifier) -> its cells by name."""
    with open(path, newline="", encoding="latin-1") as handle:
        rows = list(csv.reader(handle))
    start = next(i for i, row in enumerate(rows) if row[:2] == ["HCPCS", "MOD"]) + 1
    kept = {}
    for row in rows[start:]:
        if len(row) < 20 or not row[0]:
            continue
        code, modifier, status = row[0].strip(), row[1].strip(), row[3].strip()
        if status not in PAID or modifier not in ("", "26", "TC"):
            continue
        if float(row[11] or 0) <= 0 and float(row[12] or 0) <= 0:
            continue
        kept[code, modifier] = {
            "file_description": row[2],
            "work_rvu": row[5].strip(),
            "pe_rvu_nonfacility": row[6].strip(),
            "pe_nonfacility_na": row[7].strip(),
            "pe_rvu_facility": row[8].strip(),
            "pe_facility_na": row[9].strip(),
            "mp_rvu": row[10].strip(),
            "pctc_indicator": row[13].strip(),
            "global_days": row[14].strip(),
            "multiple_procedure_indicator": row[18].strip(),
            "bilateral_indicator": row[19].strip(),
        }
    return {key: value for key, value in kept.items() if key[1] == "" or (key[0], "") in kept}


def build(rvu_path, catalog_path):
    with open(catalog_path, newline="", encoding="utf-8") as handle:
        curated = {(row["cpt_code"], row.get("modifier", "")): row for row in csv.DictReader(handle)}
    rows = []
    kept = rvu_rows(rvu_path)
    for (code, modifier), cells in kept.items():
        own = curated.get((code, modifier), {})
        row = {column: "" for column in COLUMNS}
        row.update({k: v for k, v in cells.items() if k in COLUMNS})
        row.update(cpt_code=code, modifier=modifier, category=own.get("category") or category(code))
        if modifier:
            row["description"] = own.get("description") or (
                f"{description(code, kept[code, '']['file_description'])}, {COMPONENT_WORDS[modifier]}"
            )
        else:
            row["description"] = own.get("description") or description(code, cells["file_description"])
        for column in ("baseline_low", "baseline_typical", "baseline_high", "addon_to"):
            row[column] = own.get(column, "")
        rows.append(row)
    for (code, modifier), own in curated.items():  # curated codes the file does not pay (20971)
        if (code, modifier) not in kept:
            rows.append({column: own.get(column, "") for column in COLUMNS})
    rows.sort(key=lambda row: (row["cpt_code"], row["modifier"]))
    return rows


def main(argv):
    rvu_path, catalog_path = argv[1], Path(argv[2])
    rows = build(rvu_path, catalog_path)
    partial = catalog_path.with_name(f".{catalog_path.name}.part")
    with open(partial, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    partial.replace(catalog_path)
    print(f"{len(rows):,} rows written to {catalog_path}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
