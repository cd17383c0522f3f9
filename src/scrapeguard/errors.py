"""One root exception, so the CLI and service can turn any library error into an exit code."""

from __future__ import annotations

from dataclasses import dataclass


class ScrapeGuardError(Exception):
    """Root of every error scrapeguard raises on purpose."""


@dataclass(frozen=True)
class Location:
    """Where in a file something went wrong; line and column are 1-based."""

    path: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        text = self.path
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text


@dataclass(frozen=True)
class PolicyIssue:
    """One problem found in a policy file."""

    location: Location
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}: {self.message}"


class PolicyError(ScrapeGuardError):
    """A policy file is invalid; carries every issue found, each with file, line and column."""

    def __init__(self, issues: list[PolicyIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class SourceError(ScrapeGuardError):
    """A log could not be read at all (missing file, unknown format, --strict violations)."""


class StoreError(ScrapeGuardError):
    """A state store is unreachable or misconfigured."""
