"""Plain-language notes about the procedures, shown beside an estimate. Written for patients; not advice."""

PROCEDURE_NOTES = {
    "20971": {
        "what": (
            "A medicine, usually a corticosteroid, a local anesthetic or both, is injected into or next to "
            "the spine to calm pain and inflammation. The doctor guides the needle with live X-ray "
            "(fluoroscopy) or ultrasound."
        ),
        "why": [
            "Long-lasting back pain that has not improved with rest, exercise or medicines.",
            "Pain that runs down a leg from a herniated disc pressing on a nerve.",
            "Narrowing of the spinal canal (spinal stenosis) or painful facet joints.",
            "Pain in the spine after an operation.",
        ],
        "before": [
            "Tell the doctor about every medicine you take, above all blood thinners, and about allergies.",
            "You may be asked not to eat or drink for a few hours beforehand.",
            "Arrange for someone to drive you home, and wear loose, comfortable clothes.",
            "Imaging such as an MRI, CT or X-ray is often done first to find the source of the pain.",
        ],
        "during": [
            "You usually lie face down; the skin is cleaned and numbed.",
            "Guided by imaging, the doctor places a thin needle and injects the medicine.",
            "The needle is removed and a small bandage is put on; the visit is usually short.",
        ],
        "after": [
            "Rest for the rest of the day; ice can ease soreness where the needle went in.",
            "Avoid strenuous activity for a day or two.",
            "A follow-up visit in one to two weeks checks how much the pain has eased.",
            "Call the doctor about fever, worsening pain, new weakness or numbness.",
        ],
        "risks": (
            "Complications are uncommon: infection or bleeding at the site, nerve irritation, an allergic "
            "reaction, or a short-lived flare of pain."
        ),
        "alternatives": (
            "Physical therapy, anti-inflammatory medicines, heat, gentle stretching and weight management are "
            "often tried before or alongside injections."
        ),
    },
}
