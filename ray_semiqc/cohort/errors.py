"""One error type for bad input: it names the subject, the file and the problem."""

from __future__ import annotations

from pathlib import Path


class CohortError(ValueError):
    def __init__(self, subject_id: str, path: str | Path | None, problem: str):
        self.subject_id = subject_id
        self.path = str(path) if path is not None else None
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" {self.path}:" if self.path else ""
        return f"subject {self.subject_id}:{where} {self.problem}"

    def __reduce__(self):  # pickles across Ray workers with its fields
        return (CohortError, (self.subject_id, self.path, self.problem))
