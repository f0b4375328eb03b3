"""One error type for every bad input, so the CLI can turn it into one line and exit code 2."""

from __future__ import annotations


class AttribError(Exception):
    """A user-fixable problem: names the file, the field, what is wrong and how to fix it.

    Rendered as one line: ``FILE: FIELD: PROBLEM (fix: FIX)``. Parts that do not apply are omitted.
    """

    exit_code = 2

    def __init__(self, problem: str, *, file: str | None = None, field: str | None = None,
                 fix: str | None = None, quiet: bool = False):
        self.problem = problem
        self.quiet = quiet  # already reported by another process of the same job: exit 2, print nothing
        self.file = None if file is None else str(file)
        self.field = field
        self.fix = fix
        super().__init__(self.line())

    def line(self) -> str:
        parts = [p for p in (self.file, self.field) if p]
        text = ": ".join(parts + [self.problem])
        if self.fix:
            text += f" (fix: {self.fix})"
        return " ".join(text.split())  # always one line, whatever the input held
