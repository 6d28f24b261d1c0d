"""Reading a published price file, whatever the importer: the JSON stream (gunzipped, without a
byte-order mark, nesting checked before ijson reads it), the types its schema gives its fields, and
the refusals of a file that cannot be read, each a message naming where the file went wrong."""

import contextlib
import gzip
import zlib

import ijson

from .depth import TooDeep, open_bytes, open_scanned
from .rows import ImportFailed

#: What reading a file that is not whole, valid JSON or UTF-8 text raises.
UNREADABLE = (ijson.JSONError, ijson.IncompleteJSONError, EOFError, OSError, UnicodeDecodeError, zlib.error)


def open_json(path, keys=()):
    """The file as a binary stream for ijson: gunzipped, without a byte-order mark, and refused
    (:class:`TooDeep` from ``read``) where it nests deeper than any price file does. ``keys``: keys
    (quoted bytes) whose times as keys of the top-level object the stream's ``key_counts()`` counts."""
    return open_scanned(path, keys=keys)


def first_bytes(path, size=4096):
    """The first bytes of the file's text (gunzipped, without a byte-order mark); ``None`` when even
    they cannot be read (a truncated or corrupt gzip file)."""
    try:
        with open_bytes(path) as handle:
            return handle.read(size)
    except (EOFError, gzip.BadGzipFile, zlib.error):
        return None


def what_it_seems(head):
    """What a file that is not JSON (``head``: its first bytes) seems to be, and the command that
    reads it (for a refusal)."""
    head = head.lstrip(b" \t\r\n")
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    if not head:
        return "the file is empty"
    if "hospital_name" in first or "last_updated_on" in first:
        return "it seems to be a hospital standard charges CSV file: `python -m estimator import hospital` reads those"
    if "," in first and not head.startswith((b"{", b"[")):
        return "it seems to be a CSV file, not JSON"
    return "it is not JSON"


def as_list(value):
    """A field the schema makes an array, as one (a lone value is a list of one; none is empty)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class WrongShape(Exception):
    """A field of the file is not of the type its schema gives (a number where an object belongs...)."""


def as_object(value, what):
    if not isinstance(value, dict):
        raise WrongShape(f"{what} is {kind_of(value)}, not an object")
    return value


def as_array(value, what):
    if value is None:
        return []
    if not isinstance(value, list):
        raise WrongShape(f"{what} is {kind_of(value)}, not an array")
    return value


def kind_of(value):
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


@contextlib.contextmanager
def refusals(path, what, items, unreadable):
    """Turn what reading ``path`` raises into :class:`ImportFailed` with a message: a missing file, a
    file nesting too deep (``what``: the kind of file, "no [what] does"), a field of the wrong type (at
    ``items`` item N, N being what the body sets in the yielded dict's ``item``), and, for anything
    else unreadable, ``unreadable(error)``."""
    where = {"item": 0}
    try:
        yield where
    except FileNotFoundError:
        raise ImportFailed(f"{path} does not exist") from None
    except TooDeep as exc:
        raise ImportFailed(f"the file {exc}: no {what} does; nothing was imported") from None
    except WrongShape as exc:
        at = f"{items} item {where['item']:,}: " if where["item"] else ""
        raise ImportFailed(f"{at}{exc}, as the schema has it; nothing was imported") from None
    except UNREADABLE as exc:
        raise ImportFailed(unreadable(exc)) from None
