"""Reads an ASC X12 interchange: separators from its ISA segment, segments, and its envelopes checked
(ISA/IEA, GS/GE, ST/SE: counts and control numbers). Knows nothing of what a transaction means."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from .codes import TRANSACTION_WORDS

#: An ISA segment is fixed-length: 106 characters with its terminator.
ISA_LENGTH = 106
ISA_ELEMENTS = 16
#: Positions in the ISA segment of the repetition separator (ISA11), the component separator (ISA16) and
#: the segment terminator, which follows ISA16.
REPETITION_AT, COMPONENT_AT, TERMINATOR_AT = 82, 104, 105
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")


class X12Error(ValueError):
    """The text is not a readable X12 interchange; the message says why, in words, with the segment's
    position (from 1) where there is one. It never quotes the file's data, only its codes."""


@dataclasses.dataclass(frozen=True)
class Separators:
    element: str
    repetition: str
    component: str
    segment: str


@dataclasses.dataclass(frozen=True)
class Segment:
    """One segment: its position in the interchange (from 1), its id and its elements (``elements[0]`` is
    the first element after the id, so ``element(1)`` is what X12 calls ``XX01``)."""

    position: int
    id: str
    elements: tuple[str, ...]
    separators: Separators

    def element(self, n):
        """Element ``n`` (from 1), stripped; blank when the segment is shorter."""
        return self.elements[n - 1].strip() if n <= len(self.elements) else ""

    def repeats(self, n):
        """The repetitions of element ``n``, blank ones left out."""
        return tuple(part.strip() for part in self.element(n).split(self.separators.repetition) if part.strip())

    def text(self):
        """The segment as written, without its terminator."""
        return self.separators.element.join((self.id, *self.elements))


@dataclasses.dataclass(frozen=True)
class Transaction:
    """One transaction set, ST to SE; ``segments`` are those between them."""

    id: str
    control_number: str
    version: str
    segments: tuple[Segment, ...]


@dataclasses.dataclass(frozen=True)
class Interchange:
    control_number: str
    date: dt.date | None
    transactions: tuple[Transaction, ...]


def _decoded(data):
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise X12Error("This is not an X12 file: it is not text.") from None


def separators(text):
    """The separators the ISA segment at the start of ``text`` declares."""
    if len(text) < ISA_LENGTH:
        raise X12Error(
            f"The ISA segment is cut short: it has {len(text)} characters, and the standard fixes it at "
            f"{ISA_LENGTH}, which is where its separators are read."
        )
    element = text[3]
    isa = text[:ISA_LENGTH]
    found = isa[:TERMINATOR_AT].count(element) if element not in "\r\n" else 0
    if element.isalnum() or element.isspace() or found != ISA_ELEMENTS:
        raise X12Error(
            "The ISA segment is not the 106 characters with 16 elements the standard fixes, so its separators "
            f"cannot be read: with the character after 'ISA' as the element separator it has {found} elements. "
            "Send the file as the payer or clearinghouse gave it."
        )
    found = Separators(
        element=element, repetition=isa[REPETITION_AT], component=isa[COMPONENT_AT], segment=isa[TERMINATOR_AT]
    )
    chosen = [found.element, found.component, found.segment]
    if isa[84:89] == "00501":  # from version 5010, ISA11 is the repetition separator
        chosen.append(found.repetition)
    bad = [c for c in chosen if c.isalnum() or c == " "]
    if bad or len(set(chosen)) != len(chosen):
        raise X12Error(
            "The ISA segment declares separators that cannot be used: they must be distinct and neither "
            f"letters, digits nor spaces (element {found.element!r}, component {found.component!r}, "
            f"repetition {found.repetition!r}, segment {found.segment!r})."
        )
    return found


def segments(text, seps):
    """The segments of ``text``, split by the declared terminator; line breaks around them are ignored."""
    pieces = [piece.strip("\r\n") for piece in text.split(seps.segment)]
    while pieces and not pieces[-1].strip():  # what follows the last terminator
        pieces.pop()
    out = []
    for position, raw in enumerate(pieces, start=1):
        if not raw.strip():
            raise X12Error(f"Segment {position} is empty: two segment terminators ({seps.segment!r}) in a row.")
        parts = raw.split(seps.element)
        tag = parts[0].strip()
        if not _SEGMENT_ID.fullmatch(tag):
            raise X12Error(
                f"Segment {position} has no segment id where one should be: the file does not use the separators "
                f"its ISA segment declares (elements {seps.element!r}, segments {seps.segment!r})."
            )
        out.append(Segment(position, tag, tuple(parts[1:]), seps))
    return out


def _closes(closing, opening, what, counted, count, control):
    """Check a closing segment (SE, GE, IEA): the number of what it closes (its element 1) and the opening's
    control number repeated (its element 2)."""
    declared = closing.element(1)
    if not declared.isdigit():
        raise X12Error(
            f"Segment {closing.position} ({closing.id}): {closing.id}01, the number of {counted} in the {what}, is "
            "not a number."
        )
    if int(declared) != count:
        raise X12Error(
            f"Segment {closing.position} ({closing.id}) says the {what} has {int(declared)} {counted}, but it has "
            f"{count}: the file is damaged or cut."
        )
    if closing.element(2) != control:
        raise X12Error(
            f"Segment {closing.position} ({closing.id}) closes {what} {closing.element(2)!r}, but the {what} opened "
            f"at segment {opening.position} is {control!r}."
        )


def _isa_date(isa):
    try:
        return dt.datetime.strptime(isa.element(9), "%y%m%d").date()
    except ValueError:
        return None


def read(data):
    """Read an interchange from ``data`` (text or UTF-8 bytes).

    Raises ``X12Error`` when it is not X12, when its separators cannot be used, or when an envelope is
    broken: a segment outside them, a count (SE01, GE01, IEA01) or a closing control number that does not
    match, a missing closing segment.
    """
    text = _decoded(data).lstrip("\ufeff \t\r\n")
    if not text.startswith("ISA"):
        raise X12Error(
            "This is not an X12 file: an X12 interchange starts with an ISA segment. Paste or upload the "
            "eligibility response (271) as the payer or clearinghouse sent it."
        )
    seps = separators(text)
    found = segments(text, seps)
    isa, rest = found[0], found[1:]
    if len(isa.elements) != ISA_ELEMENTS:
        raise X12Error("Segment 1 (ISA) does not have its 16 elements.")
    groups = 0
    transactions = []
    i = 0

    def closing(closer, what, opened_at, expected):
        """``rest[i]``, which must be ``closer`` (SE, GE, IEA) closing ``what``; ``expected`` is what should
        stand there, in words."""
        if i == len(rest):
            raise X12Error(
                f"The file ends before the {closer} segment that closes the {what} (opened at segment {opened_at}): "
                "it may be cut off."
            )
        if rest[i].id != closer:
            raise X12Error(f"Segment {rest[i].position} ({rest[i].id}) is where {expected} should be.")
        return rest[i]

    while i < len(rest) and rest[i].id == "TA1":  # an interchange acknowledgment may precede the groups
        i += 1
    while i < len(rest) and rest[i].id == "GS":
        gs = rest[i]
        groups += 1
        i += 1
        count = 0
        while i < len(rest) and rest[i].id == "ST":
            st = rest[i]
            start = i
            i += 1
            while i < len(rest) and rest[i].id not in ("SE", "ST", "GE", "IEA", "GS"):
                i += 1
            se = closing(
                "SE", "transaction", st.position, f"the SE segment closing the transaction of segment {st.position}"
            )
            body = tuple(rest[start + 1 : i])
            _closes(se, st, "transaction", "segments (ST to SE)", len(body) + 2, st.element(2))
            version = st.element(3) or gs.element(8)
            transactions.append(Transaction(st.element(1), st.element(2), version, body))
            count += 1
            i += 1
        ge = closing(
            "GE", "functional group", gs.position, "a transaction (ST) or the end of the functional group (GE)"
        )
        _closes(ge, gs, "functional group", "transactions", count, gs.element(6))
        i += 1
    iea = closing("IEA", "interchange", 1, "a functional group (GS) or the end of the interchange (IEA)")
    if i != len(rest) - 1:
        raise X12Error(
            f"Segment {rest[i + 1].position} ({rest[i + 1].id}) follows the IEA segment that closes the "
            "interchange: send one interchange at a time."
        )
    _closes(iea, isa, "interchange", "functional groups", groups, isa.element(13))
    if not transactions:
        raise X12Error("The interchange holds no transaction (ST segment).")
    return Interchange(isa.element(13), _isa_date(isa), tuple(transactions))


def transaction_words(code):
    """A transaction set id in words: ``270`` -> 'an eligibility inquiry (270)'."""
    words = TRANSACTION_WORDS.get(code)
    return f"{words} ({code})" if words else f"a transaction of type {code!r}"
