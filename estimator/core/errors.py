"""Domain exceptions; only the web layer turns them into HTTP answers."""


class EstimatorError(Exception):
    """Base class of every error this package raises on purpose."""


class ScheduleProblem:
    """One problem found in a fee-schedule file, located by file, line and column."""

    __slots__ = ("file", "line", "column", "message")

    def __init__(self, file, line, column, message):
        self.file, self.line, self.column, self.message = file, line, column, message

    def __str__(self):
        where = [self.file]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"

    def __repr__(self):
        return f"ScheduleProblem({str(self)!r})"


class ScheduleError(EstimatorError):
    """A fee-schedule directory failed validation; ``problems`` lists every problem found."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class InputFileError(EstimatorError):
    """A batch input cannot be read at all (empty, not CSV, required columns missing)."""


class RequestError(EstimatorError):
    """A single request failed validation; ``messages`` maps each field to its messages."""

    def __init__(self, messages):
        self.messages = messages
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in messages.items()))
