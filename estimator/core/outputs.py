"""Files written whole or not at all: beside their target, renamed into place once complete."""

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

from .errors import EstimatorError


class OutputError(EstimatorError):
    """The output cannot be written (a full disk, a folder that cannot be written, ...): names the output."""

    def __init__(self, target, error):
        self.target = str(target)
        super().__init__(f"{target}: {getattr(error, 'strerror', None) or error}")


class OutputFile:
    """A file written beside its target (``.<name>.<random>.part`` in the same folder) and renamed into
    place only when it is complete, so that no one ever sees a partial file under the target's name; on an
    error or an interruption the partial file is removed and an existing target keeps its bytes. ``-`` is
    standard output, written as it comes.

    A target that is a symbolic link is written through it: the link keeps pointing at the new file.
    """

    def __init__(self, target):
        self.stdout = str(target) == "-"
        self.target = None if self.stdout else Path(os.path.realpath(target))
        self.path = None
        # A device or a pipe (/dev/stdout, a FIFO) is written as it comes: it cannot be renamed over.
        self.stream = self.stdout or (self.target.exists() and not self.target.is_file())

    def __enter__(self):
        if self.stream:
            try:
                self.handle = sys.stdout.buffer if self.stdout else open(self.target, "wb")  # noqa: SIM115
            except OSError as exc:
                raise OutputError(self.target, exc) from exc
            return self
        try:
            fd, path = tempfile.mkstemp(dir=self.target.parent, prefix=f".{self.target.name}.", suffix=".part")
        except OSError as exc:
            raise OutputError(self.target, exc) from exc
        self.path = path
        self.handle = os.fdopen(fd, "wb")
        return self

    def write(self, data):
        try:
            return self.handle.write(data)
        except OSError as exc:
            raise OutputError(self.target or "standard output", exc) from exc

    def flush(self):
        try:
            self.handle.flush()
        except OSError as exc:
            raise OutputError(self.target or "standard output", exc) from exc

    def __exit__(self, kind, value, trace):
        if self.stream:
            if not self.stdout:
                try:
                    self.handle.close()
                except OSError as exc:
                    if kind is None:
                        raise OutputError(self.target, exc) from exc
            return False
        try:
            self.handle.close()  # flushes: a full disk shows here
            if kind is None:
                os.chmod(self.path, _mode_for(self.target))
                os.replace(self.path, self.target)
                self.path = None
        except OSError as exc:
            if kind is None:
                raise OutputError(self.target, exc) from exc
        finally:
            if self.path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
        return False


def _mode_for(target):
    """The permissions of the file replacing ``target``: its own, or a new file's (0666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
