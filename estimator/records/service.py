"""Saved estimates (SPEC section 9): save one as computed, read, list, supersede, purge; every access
audited. A saved estimate is never changed: a correction is a new one that names the old."""

import datetime as dt

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError

from ..core.errors import RequestError
from ..eligibility import service as eligibility
from .details import completed
from .models import AuditEvent, SavedEstimate, SavedLine, utcnow

#: A provider must keep a Good Faith Estimate for 6 years.
RETENTION_YEARS = 6
MAX_PAGE = 100


class RecordError(Exception):
    """A records operation refused (unknown record, a purge date too recent, ...)."""


class AlreadySuperseded(RecordError):
    """The record is corrected already: its correction is the one to correct (at most one per record)."""

    def __init__(self, old, newer):
        super().__init__(f"{old.number} is already corrected by {newer.number}: correct that one.")


def schedules_version(schedules, loaded_at):
    """The fee-schedule version an answer was computed on: directory, content hash, load time."""
    return {
        "directory": schedules.directory,
        "hash": schedules.content_hash,
        "loaded_at": dt.datetime.fromtimestamp(loaded_at, dt.UTC),
    }


def compute(request, schedules):
    """The answer of a saved estimate's request: an encounter (with ``lines``) or a single request, with
    the benefits of its eligibility response (271) when it brings one."""
    if not isinstance(request, dict):
        raise RequestError({"estimate": ["Give the estimate's request as an object."]})
    return eligibility.estimate(request, schedules)


def payer_kind(schedules, payer_id):
    """The kind of a payer on file (medicare, medicaid, commercial, self_pay)."""
    payers = schedules.arrays["payers"]
    return str(payers["kind"][list(payers["payer_id"]).index(payer_id)])


def _lines(answer):
    if "lines" in answer:
        return [
            (
                line["line"],
                line["cpt_code"],
                " ".join(line["modifiers"]),
                line["units"],
                line["allowed_amount"]["expected"],
            )
            for line in answer["lines"]
        ]
    return [
        (1, answer["cpt_code"], " ".join(answer["modifiers"]), answer["units"], answer["allowed_amount"]["expected"])
    ]


def audit(session, user, action, estimate_id, via, detail=None):
    session.add(
        AuditEvent(user_id=user.id if user else None, action=action, estimate_id=estimate_id, via=via, detail=detail)
    )


def save(session, user, request, details, schedules, loaded_at, via, supersedes=None):
    """Compute and save an estimate with its details (completed with their defaults); returns the record.

    Raises ``RequestError`` (the request's messages) when the request is invalid. The record's number,
    ``GFE-<year>-<id>``, comes from its primary key, so it is unique however many workers save at once.
    """
    answer = compute(request, schedules)
    details = completed(details, answer, payer_kind(schedules, answer["payer_id"]))
    version = schedules_version(schedules, loaded_at)
    created = utcnow()
    record = SavedEstimate(
        request=eligibility.kept(request),  # the 271's figures, not the 271: its number and date are in the answer
        answer=answer,
        details=details,
        patient_name=details["patient"]["name"],
        patient_birth_date=dt.date.fromisoformat(str(details["patient"]["birth_date"])),
        total_expected=answer["allowed_amount"]["expected"],  # the total estimated charge
        schedules_directory=version["directory"],
        schedules_hash=version["hash"],
        schedules_loaded_at=version["loaded_at"],
        created_by_id=user.id,
        created_at=created,
        supersedes_id=supersedes.id if supersedes is not None else None,
    )
    session.add(record)
    try:
        session.flush()  # the id, in this transaction; a second correction of one record fails here
    except IntegrityError:
        session.rollback()
        newer = superseded_by(session, supersedes) if supersedes is not None else None
        if newer is None:
            raise
        raise AlreadySuperseded(supersedes, newer) from None
    record.number = f"GFE-{created.year}-{record.id:06d}"
    for line, code, modifiers, units, charge in _lines(answer):
        session.add(
            SavedLine(
                estimate_id=record.id,
                line=line,
                cpt_code=code,
                modifiers=modifiers,
                units=units,
                expected_charge=charge,
            )
        )
    audit(session, user, "supersede" if supersedes is not None else "create", record.id, via)
    if supersedes is not None:
        audit(session, user, "superseded", supersedes.id, via)
    try:
        session.commit()
    except IntegrityError:  # the index is checked at commit where the flush could not see the other save
        session.rollback()
        newer = superseded_by(session, supersedes) if supersedes is not None else None
        if newer is None:
            raise
        raise AlreadySuperseded(supersedes, newer) from None
    return record


#: Largest record id looked up (a larger number is no record; the database's integers stop at 2**63).
MAX_ID = 2**62


def get(session, user, record_id, via, action="view"):
    """The record ``record_id``, its reading audited as ``action`` (view, print, export, correct; ``None``:
    not audited, for the record a correction is being saved against, whose save is audited)."""
    record = session.get(SavedEstimate, record_id) if 0 < record_id < MAX_ID else None
    if record is None:
        raise RecordError(f"no saved estimate {record_id}")
    if action is not None:
        audit(session, user, action, record.id, via)
        session.commit()
    return record


def latest(session):
    """The most recently saved estimate, or None."""
    return session.scalar(select(SavedEstimate).order_by(SavedEstimate.id.desc()).limit(1))


def superseded_by(session, record):
    """The record that corrects this one, or None."""
    return session.scalar(select(SavedEstimate).where(SavedEstimate.supersedes_id == record.id))


def search(
    session,
    user,
    via,
    name=None,
    birth_date=None,
    number=None,
    code=None,
    created_from=None,
    created_to=None,
    page=1,
    per_page=20,
):
    """Saved estimates matching every filter given, newest first; returns (records, total)."""
    query = select(SavedEstimate)
    for word in (name or "").lower().replace(",", " ").replace(".", " ").split()[:10]:  # any order, any part
        query = query.where(func.lower(SavedEstimate.patient_name).contains(word, autoescape=True))
    if birth_date:
        query = query.where(SavedEstimate.patient_birth_date == birth_date)
    if number:
        query = query.where(SavedEstimate.number.contains(number.strip().upper(), autoescape=True))
    if code:
        query = query.where(
            exists().where((SavedLine.estimate_id == SavedEstimate.id) & (SavedLine.cpt_code == code.strip().upper()))
        )
    if created_from:
        query = query.where(SavedEstimate.created_at >= dt.datetime.combine(created_from, dt.time(), dt.UTC))
    if created_to:
        query = query.where(SavedEstimate.created_at < dt.datetime.combine(created_to, dt.time.max, dt.UTC))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    per_page = max(1, min(int(per_page), MAX_PAGE))
    page = max(1, min(int(page), MAX_ID // MAX_PAGE))
    records = session.scalars(
        query.order_by(SavedEstimate.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    filters = [
        name
        for name, value in (
            ("name", name),
            ("birth_date", birth_date),
            ("number", number),
            ("code", code),
            ("created_from", created_from),
            ("created_to", created_to),
        )
        if value
    ]
    # Who looked at which patients: the records this search listed (the filters' names, not their values).
    audit(session, user, "search", None, via, {"filters": filters, "page": page, "listed": [r.id for r in records]})
    session.commit()
    return records, total


def purge(session, before, today=None):
    """Delete the records created before ``before``; refuses a date less than 6 years ago."""
    today = today or dt.date.today()
    limit = (
        today.replace(year=today.year - RETENTION_YEARS)
        if not (today.month == 2 and today.day == 29)
        else (today.replace(year=today.year - RETENTION_YEARS, day=28))
    )
    if before > limit:
        raise RecordError(f"records must be kept {RETENTION_YEARS} years: give a date on or before {limit.isoformat()}")
    cutoff = dt.datetime.combine(before, dt.time(), dt.UTC)
    old = session.scalars(select(SavedEstimate).where(SavedEstimate.created_at < cutoff)).all()
    ids = [r.id for r in old]
    for record in old:
        for line in record.lines:
            session.delete(line)
    session.flush()
    # records that supersede a purged one keep their own content; the link goes with the old record
    for newer in session.scalars(select(SavedEstimate).where(SavedEstimate.supersedes_id.in_(ids))).all():
        newer.supersedes_id = None
    session.flush()
    for record in old:
        session.delete(record)
    audit(session, None, "purge", None, "cli")
    session.commit()
    return len(ids)


def audit_trail(session, record_id):
    return session.scalars(select(AuditEvent).where(AuditEvent.estimate_id == record_id).order_by(AuditEvent.id)).all()
