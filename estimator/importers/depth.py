"""How deep a JSON file nests, found before a parser sees it.

ijson keeps, for each open array or object, the path to it as text; so its memory grows with the
square of the nesting depth (a 289-byte gzipped file nesting 100,000 levels deep takes tens of
gigabytes). No price file nests more than a dozen levels, so the importers refuse a file that nests
deeper than ``MAX_DEPTH``: each block of bytes has its brackets outside strings counted with numpy
before the parser may read it (in this process, or ahead in a child process for large files), so
memory is that of one block, whatever the file.
"""

import codecs
import gzip
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

#: The deepest nesting an imported file may have (the TiC and hospital schemas need under 10).
MAX_DEPTH = 64
BLOCK = 1 << 24
READ_AHEAD = 1 << 22
#: Files of this size or more are scanned ahead by a child process (:class:`ScannedAhead`).
AHEAD_FROM = 8 << 20
_ROOT = Path(__file__).resolve().parent.parent.parent

_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN, _CLOSE = ord("["), ord("]")  # "{" and "}" with bit 5 cleared


class TooDeep(ValueError):
    """The file nests deeper than the limit; ``offset`` is the byte (of the decoded stream) where it does."""

    def __init__(self, depth, offset):
        self.depth, self.offset = depth, offset
        super().__init__(f"nests deeper than {depth} levels (at byte {offset:,})")


class DepthScanner:
    """The nesting depth of a JSON text fed block by block; raises :class:`TooDeep` past ``limit``."""

    def __init__(self, limit=MAX_DEPTH, keys=()):
        self.limit = limit
        #: how many times each of ``keys`` (quoted, as bytes) is a key of the top-level object
        self.keys = dict.fromkeys(keys, 0)
        self.depth = self.deepest = 0
        self.in_string = False
        self.backslashes = 0  # the run of backslashes that ended the previous block
        self.offset = 0

    def feed(self, data):
        b = np.frombuffer(data, dtype=np.uint8)
        quotes = np.flatnonzero(b == _QUOTE)
        if quotes.size:
            quotes = _unescaped(b, quotes, self.backslashes)
        folded = b & 0xDF  # "[" and "{" fold to one byte, "]" and "}" to another
        brackets = np.flatnonzero((folded == _OPEN) | (folded == _CLOSE))
        if self.keys:
            self._count_keys(data, quotes, brackets, folded)
        if brackets.size:
            # a bracket is inside a string when an odd number of real quotes (with the state carried
            # from the blocks before) precedes it
            outside = (np.searchsorted(quotes, brackets) + self.in_string) % 2 == 0
            brackets = brackets[outside]
            levels = self.depth + np.cumsum(np.where(folded[brackets] == _OPEN, 1, -1))
            if levels.size:
                top = int(levels.max())
                if top > self.limit:
                    raise TooDeep(self.limit, self.offset + int(brackets[np.argmax(levels > self.limit)]))
                self.deepest = max(self.deepest, top)
                self.depth = int(levels[-1])
        self.in_string ^= bool(quotes.size % 2)
        self.backslashes = _trailing_backslashes(b, self.backslashes)
        self.offset += len(data)

    def _count_keys(self, data, quotes, brackets, folded):
        """Count the watched keys that are keys of the top-level object: a real quote opening a string
        at depth 1, followed by a colon (a key split between two blocks is not seen: see
        :class:`DepthLimited`, whose blocks never end in a possible key)."""
        for key in self.keys:
            at = data.find(key)
            while at != -1:
                end = at + len(key)
                before = int(np.searchsorted(quotes, at))
                opening = before < quotes.size and quotes[before] == at and (before + self.in_string) % 2 == 0
                if opening and data[end:].lstrip()[:1] in (b":", b""):
                    k = int(np.searchsorted(brackets, at))
                    steps = np.where(folded[brackets[:k]] == _OPEN, 1, -1)
                    # brackets inside strings before ``at`` do not count
                    inside = (np.searchsorted(quotes, brackets[:k]) + self.in_string) % 2 == 1
                    if self.depth + int(steps[~inside].sum()) == 1:
                        self.keys[key] += 1
                at = data.find(key, end)


def check_depth(stream, limit=MAX_DEPTH, block=BLOCK):
    """Read binary ``stream`` to its end; raise :class:`TooDeep` where it first nests deeper than
    ``limit`` arrays and objects. Returns the deepest nesting found. Brackets inside strings do not
    count (a quote preceded by an odd run of backslashes does not end a string)."""
    scanner = DepthScanner(limit)
    for _ in scanned_blocks(stream, scanner, block):
        pass
    return scanner.deepest


def open_bytes(path):
    """The file as a buffered binary stream, gunzipped when it is gzip (by its first bytes, not its
    name), after its byte-order mark if it has one."""
    handle = open(path, "rb")  # noqa: SIM115 - the caller closes it
    if handle.peek(2)[:2] == b"\x1f\x8b":
        handle.close()
        handle = gzip.open(path, "rb")
    try:
        if handle.peek(3)[:3] == codecs.BOM_UTF8:
            handle.read(3)
    except BaseException:
        handle.close()
        raise
    return handle


def scanned_blocks(stream, scanner, block=READ_AHEAD):
    """The blocks of ``stream``, each fed to ``scanner`` before it is given. A block is read on (64
    bytes at a time) until its last bytes hold no quote, so that no watched key is split between two."""
    longest = max(map(len, scanner.keys), default=0)
    while data := stream.read(block):
        if longest and b'"' in data[-longest:]:
            extra = []
            for _ in range(64):
                more = stream.read(64)
                if not more:
                    break
                extra.append(more)
                if b'"' not in (data[-longest:] + b"".join(extra))[-longest:]:
                    break
            data += b"".join(extra)
        scanner.feed(data)
        yield data


def open_scanned(path, limit=MAX_DEPTH, keys=()):
    """The file (see :func:`open_bytes`) as a stream whose bytes a :class:`DepthScanner` has passed
    before they are read: scanned in this process (small files), or ahead, by a child process on the
    other core, for files of ``AHEAD_FROM`` bytes or more (the reader waits where it catches up)."""
    if os.path.getsize(path) >= AHEAD_FROM:
        return ScannedAhead(path, limit, keys)
    return DepthLimited(open_bytes(path), limit, keys)


class DepthLimited(io.RawIOBase):
    """A binary stream read through a :class:`DepthScanner`: each block is scanned before any of its
    bytes is returned, so a parser reading it never sees nesting past the limit (``read`` raises
    :class:`TooDeep` instead)."""

    def __init__(self, stream, limit=MAX_DEPTH, keys=()):
        super().__init__()
        self.stream = stream
        self.scanner = DepthScanner(limit, keys)
        self.blocks = scanned_blocks(stream, self.scanner)
        self.data, self.at = memoryview(b""), 0

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.at >= len(self.data):
            data = next(self.blocks, b"")
            if not data:
                return 0
            self.data, self.at = memoryview(data), 0
        size = min(len(buffer), len(self.data) - self.at)
        buffer[:size] = self.data[self.at : self.at + size]
        self.at += size
        return size

    def key_counts(self):
        """How many times each watched key was a top-level key (once the stream has been read whole)."""
        return {key.decode("latin-1"): n for key, n in self.scanner.keys.items()}

    def close(self):
        if not self.closed:
            self.stream.close()
        super().close()


class ScannedAhead(io.RawIOBase):
    """The file read here while a child process (``python -m estimator.importers.depth``) scans it
    ahead and reports how far it is safe: ``ok N`` (the first N bytes are), ``deep LIMIT AT``,
    ``end {key counts}``, or ``error`` (the file cannot be read: this reader meets the same error)."""

    def __init__(self, path, limit=MAX_DEPTH, keys=()):
        super().__init__()
        self.stream = open_bytes(path)
        command = [sys.executable, "-m", "estimator.importers.depth", str(path), str(limit)]
        command += [key.decode("latin-1") for key in keys]
        self.child = subprocess.Popen(
            command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=_ROOT
        )
        self.safe = self.at = 0
        self.counts, self.ended = None, False

    def readable(self):
        return True

    def _hear(self):
        line = self.child.stdout.readline().split(b" ", 1)
        kind, rest = line[0].strip(), (line[1] if len(line) > 1 else b"")
        if kind == b"ok":
            self.safe = int(rest)
        elif kind == b"deep":
            limit, at = map(int, rest.split())
            raise TooDeep(limit, at)
        elif kind in (b"end", b"error"):
            self.counts = json.loads(rest) if kind == b"end" else {}
            self.ended, self.safe = True, math.inf
        else:  # the child ended without a word: nothing past what it passed is read
            raise OSError("the file's depth check stopped before the end of the file")

    def readinto(self, buffer):
        while self.safe <= self.at and not self.ended:
            self._hear()
        size = int(min(len(buffer), self.safe - self.at))
        read = self.stream.readinto(memoryview(buffer)[:size])
        self.at += read
        return read

    def key_counts(self):
        while not self.ended:
            self._hear()
        return self.counts

    def close(self):
        if not self.closed:
            self.child.kill()
            self.child.wait()
            self.child.stdout.close()
            self.stream.close()
        super().close()


def _scan_to_stdout(path, limit, keys):
    """The child of :class:`ScannedAhead`: scan ``path``, telling stdout how far it is safe."""
    out = sys.stdout.buffer
    scanner = DepthScanner(limit, [key.encode("latin-1") for key in keys])
    try:
        with open_bytes(path) as stream:
            for _ in scanned_blocks(stream, scanner):
                out.write(b"ok %d\n" % scanner.offset)
                out.flush()
    except TooDeep as exc:
        out.write(b"deep %d %d\n" % (exc.depth, exc.offset))
    except (OSError, EOFError, ValueError):
        out.write(b"error\n")
    else:
        counts = {key.decode("latin-1"): n for key, n in scanner.keys.items()}
        out.write(b"end " + json.dumps(counts).encode() + b"\n")
    out.flush()


def _unescaped(b, quotes, carried):
    """The quotes of block ``b`` that are not escaped (``carried``: backslashes ending the last block).
    Only a quote right after a backslash (rare) has its run of backslashes counted, one by one."""
    after = b[np.maximum(quotes - 1, 0)] == _BACKSLASH
    after[0] |= quotes[0] == 0 and carried > 0
    escaped = []
    for at in quotes[after].tolist():
        run, j = 0, at - 1
        while j >= 0 and b[j] == _BACKSLASH:
            run, j = run + 1, j - 1
        if j < 0:
            run += carried
        if run % 2:
            escaped.append(at)
    return np.setdiff1d(quotes, escaped, assume_unique=True) if escaped else quotes


def _trailing_backslashes(b, carried):
    run = 0
    while run < b.size and b[b.size - 1 - run] == _BACKSLASH:
        run += 1
    return carried + run if run == b.size else run


if __name__ == "__main__":
    _scan_to_stdout(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
