"""How deep a JSON file nests, found before a parser sees it.

ijson keeps, for each open array or object, the path to it as text; so its memory grows with the
square of the nesting depth (a 289-byte gzipped file nesting 100,000 levels deep takes tens of
gigabytes). No price file nests more than a dozen levels, so the importers refuse a file that nests
deeper than ``MAX_DEPTH`` before parsing it, after a pass that counts brackets outside strings in
blocks of bytes with numpy: its memory is that of one block, whatever the file.
"""

import io

import numpy as np

#: The deepest nesting an imported file may have (the TiC and hospital schemas need under 10).
MAX_DEPTH = 64
BLOCK = 1 << 24
READ_AHEAD = 1 << 22

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
    while data := stream.read(block):
        scanner.feed(data)
    return scanner.deepest


class DepthLimited(io.RawIOBase):
    """A binary stream read through a :class:`DepthScanner`: each block is scanned before any of its
    bytes is returned, so a parser reading it never sees nesting past the limit (``read`` raises
    :class:`TooDeep` instead)."""

    def __init__(self, stream, limit=MAX_DEPTH, block=READ_AHEAD, keys=()):
        super().__init__()
        self.stream, self.block = stream, block
        self.scanner = DepthScanner(limit, keys)
        self.longest = max(map(len, keys), default=0)
        self.data, self.at = memoryview(b""), 0

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.at >= len(self.data):
            data = self.stream.read(self.block)
            if not data:
                return 0
            if self.longest:
                data = self._whole_keys(data)
            self.scanner.feed(data)
            self.data, self.at = memoryview(data), 0
        size = min(len(buffer), len(self.data) - self.at)
        buffer[:size] = self.data[self.at : self.at + size]
        self.at += size
        return size

    def _whole_keys(self, data):
        """``data`` read on until its end holds no quote a watched key could start with."""
        for _ in range(64):
            if b'"' not in data[-self.longest :]:
                break
            more = self.stream.read(64)
            if not more:
                break
            data += more
        return data

    def close(self):
        if not self.closed:
            self.stream.close()
        super().close()


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
