"""Reads an eligibility response (X12 271, 005010X279A1) into who is covered, by which payer, with which
benefit segments (EB), and the rejections (AAA) it carries. The figures are chosen in :mod:`.benefits`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal

from . import x12
from .codes import FOLLOW_UP, LOOP_WORDS, REJECT_REASONS
from .x12 import X12Error

#: Implementation guides read: the 271 of version 5010 (and its addenda).
GUIDE = "005010X279"
_DECIMAL = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")
#: HL03: the levels of a 271.
PAYER, RECEIVER, SUBSCRIBER, DEPENDENT = "20", "21", "22", "23"


@dataclasses.dataclass(frozen=True)
class Benefit:
    """One EB segment of a patient's loop.

    ``number`` counts the EB segments of the patient's loop from 1; ``segment`` is the position in the
    file (ISA = 1, one segment per line as most viewers show them). ``service_types`` are EB03's
    repetitions, ``("30",)`` when EB03 is blank.
    """

    loop: str
    number: int
    segment: int
    code: str
    level: str
    service_types: tuple[str, ...]
    plan: str
    period: str
    amount: Decimal | None
    percent: Decimal | None
    network: str
    text: str


@dataclasses.dataclass(frozen=True)
class Rejection:
    """An AAA segment: the request (or part of it) was not answered."""

    loop: str
    reason: str
    follow_up: str

    def words(self):
        reason = REJECT_REASONS.get(self.reason, f"reason code {self.reason!r}" if self.reason else "no reason given")
        text = f"{LOOP_WORDS.get(self.loop, 'loop ' + self.loop)} was rejected: {reason} (AAA03 {self.reason})"
        if self.follow_up in FOLLOW_UP:
            text += f"; {FOLLOW_UP[self.follow_up]}"
        return text


@dataclasses.dataclass
class Person:
    """A subscriber (loop 2000C) or a dependent (2000D) with the benefits and rejections of their loops."""

    loop: str
    last: str = ""
    first: str = ""
    middle: str = ""
    member_id: str = ""
    birth_date: dt.date | None = None
    rejections: list[Rejection] = dataclasses.field(default_factory=list)
    benefits: list[Benefit] = dataclasses.field(default_factory=list)
    subscriber: Person | None = None
    dependents: list[Person] = dataclasses.field(default_factory=list)
    transaction: Transaction | None = None

    @property
    def relationship(self):
        return "dependent" if self.loop == "2000D" else "subscriber"

    @property
    def name(self):
        return " ".join(part for part in (self.first, self.middle, self.last) if part)

    @property
    def ids(self):
        """Member ids that name this person: their own, and for a dependent the subscriber's."""
        own = [self.member_id] if self.member_id else []
        if self.subscriber is not None and self.subscriber.member_id:
            own.append(self.subscriber.member_id)
        return own

    def label(self):
        """How a person is listed when the request must choose: name, member id, birth date."""
        parts = [self.name or "(no name)"]
        if self.ids:
            parts.append(f"member ID {self.ids[0]}")
        if self.birth_date:
            parts.append(f"born {self.birth_date.isoformat()}")
        parts.append(self.relationship)
        return ", ".join(parts)


@dataclasses.dataclass
class Transaction:
    """One 271 transaction: its trace, the payer, the rejections above the subscribers."""

    control_number: str
    reference: str = ""
    date: dt.date | None = None
    payer_name: str = ""
    payer_id: str = ""
    rejections: list[Rejection] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Response:
    """A 271: the interchange's control number and date, its transactions and the patients it answers for
    (each dependent, and each subscriber who has none)."""

    control_number: str
    date: dt.date | None
    transactions: tuple[Transaction, ...]
    patients: tuple[Person, ...]


def _date(text):
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


def _decimal(segment, n, what, where):
    value = segment.element(n)
    if not value:
        return None
    if not _DECIMAL.fullmatch(value):
        raise X12Error(f"{where}: EB0{n}, {what}, is {value[:20]!r}, which is not a number.")
    return Decimal(value)


def read(data):
    """Read a 271 from text or bytes.

    Raises ``X12Error`` when it is not an X12 interchange, its envelopes are broken, it holds another
    transaction than a 271 (a 270, an 835, ...), or an EB amount or percent is not a number.
    """
    interchange = x12.read(data)
    transactions, patients = [], []
    for t in interchange.transactions:
        if t.id != "271":
            raise X12Error(
                f"This is {x12.transaction_words(t.id)}, not an eligibility response (271): send the payer's answer "
                "to the eligibility inquiry."
            )
        if t.version and not t.version.startswith(GUIDE):
            raise X12Error(
                f"The 271 follows the implementation guide {t.version!r}; this estimator reads {GUIDE}A1 (version "
                "5010)."
            )
        transaction, people = _walk(t)
        transactions.append(transaction)
        patients.extend(people)
    return Response(interchange.control_number, interchange.date, tuple(transactions), tuple(patients))


def _walk(t):
    """The people of one 271 transaction, with their loops' benefits and rejections."""
    transaction = Transaction(t.control_number)
    levels = {}  # HL01 -> (HL03, person or None)
    level, person, in_benefits, in_ls = None, None, False, False
    named = False  # the current level's NM1 was read (later ones belong to benefit loops)
    subscribers = []
    for segment in t.segments:
        sid = segment.id
        number = segment.position
        if in_ls:
            in_ls = sid != "LE"
            continue
        if sid == "BHT":
            transaction.reference = segment.element(3)
            transaction.date = _date(segment.element(4))
        elif sid == "HL":
            level = segment.element(3)
            parent = levels.get(segment.element(2), (None, None))[1]
            person, in_benefits, named = None, False, False
            if level == SUBSCRIBER:
                person = Person("2000C", transaction=transaction)
                subscribers.append(person)
            elif level == DEPENDENT:
                person = Person("2000D", transaction=transaction, subscriber=parent)
                if parent is not None:
                    parent.dependents.append(person)
                else:
                    subscribers.append(person)  # a dependent level without its subscriber: read it as found
            elif level not in (PAYER, RECEIVER):
                raise X12Error(
                    f"Segment {segment.position} (HL): hierarchical level {level!r} is not one of a 271 (20 payer, "
                    "21 provider, 22 subscriber, 23 dependent)."
                )
            levels[segment.element(1)] = (level, person)
        elif sid == "NM1" and not named:
            named = True
            if level == PAYER:
                transaction.payer_name = segment.element(3)
                transaction.payer_id = segment.element(9)
            elif person is not None:
                person.last, person.first, person.middle = segment.element(3), segment.element(4), segment.element(5)
                person.member_id = segment.element(9)
        elif sid == "DMG" and person is not None and not in_benefits and segment.element(1) == "D8":
            person.birth_date = _date(segment.element(2))
        elif sid == "AAA":
            rejection = Rejection(_aaa_loop(level, named, in_benefits), segment.element(3), segment.element(4))
            (person.rejections if person is not None else transaction.rejections).append(rejection)
        elif sid == "EB" and person is not None:
            in_benefits = True
            loop = "2110D" if person.loop == "2000D" else "2110C"
            where = f"Segment {number} (EB, benefit {len(person.benefits) + 1} of loop {loop})"
            person.benefits.append(
                Benefit(
                    loop=loop,
                    number=len(person.benefits) + 1,
                    segment=number,
                    code=segment.element(1),
                    level=segment.element(2),
                    service_types=segment.repeats(3) or ("30",),
                    plan=segment.element(5),
                    period=segment.element(6),
                    amount=_decimal(segment, 7, "the amount", where),
                    percent=_decimal(segment, 8, "the percent", where),
                    network=segment.element(12),
                    text=segment.text(),
                )
            )
        elif sid == "LS":
            in_ls = True
    people = []
    for subscriber in subscribers:
        people.extend(subscriber.dependents or [subscriber])
    return transaction, people


def _aaa_loop(level, named, in_benefits):
    if level == PAYER:
        return "2100A" if named else "2000A"
    if level == RECEIVER:
        return "2100B"
    suffix = "D" if level == DEPENDENT else "C"
    return f"2110{suffix}" if in_benefits else f"2100{suffix}"
