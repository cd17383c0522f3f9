"""Decisions: what an engine concluded about one actor, and the decisions file other tools read.

The file's fields are a contract (docs/design.md): add, never rename.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from scrapeguard.errors import SourceError
from scrapeguard.textsafe import json_text
from scrapeguard.types import ACTIONS, Action, ActorKey

DECISION_FIELDS = (
    "actor", "kind", "action", "score", "first_action_ts", "requests", "subjects",
    "subjects_before_action", "rules", "reasons", "members", "members_first_action_ts",
)
"""`members` and `members_first_action_ts` appear together, only on fingerprint and campaign
decisions; the second is aligned with the first: when the decision first applied to each
member (a client that joins a campaign after it was acted on is covered only from then)."""


@dataclass
class Decision:
    actor: ActorKey
    kind: str
    action: Action
    score: float
    first_action_ts: datetime
    requests: int
    subjects: int
    subjects_before_action: int
    rules: list[str]
    reasons: list[str]
    members: list[ActorKey] | None = None
    members_first_action_ts: list[datetime] | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "actor": self.actor,
            "kind": self.kind,
            "action": self.action,
            "score": round(self.score, 4),
            "first_action_ts": format_ts(self.first_action_ts),
            "requests": self.requests,
            "subjects": self.subjects,
            "subjects_before_action": self.subjects_before_action,
            "rules": self.rules,
            "reasons": self.reasons,
        }
        if self.members is not None:
            record["members"] = self.members
            since = self.members_first_action_ts or [self.first_action_ts] * len(self.members)
            record["members_first_action_ts"] = [format_ts(ts) for ts in since]
        return record

    @classmethod
    def from_json(cls, record: Any) -> Decision:
        """A decision from one decoded line; ValueError (saying which field) for anything
        that is not one, since the file may come from another tool or be damaged."""
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        actor = _text(record, "actor")
        kind, _, key = actor.partition(":")
        if not kind or not key:
            raise ValueError(f"actor {actor[:80]!r} is not kind:key")
        action = _text(record, "action")
        if action not in ACTIONS:
            raise ValueError(f"action {action[:80]!r} is none of {', '.join(ACTIONS)}")
        members = record.get("members")
        if members is not None and not _texts(members):
            raise ValueError("members is not a list of actor keys")
        return cls(
            actor=actor,
            kind=_text(record, "kind") if "kind" in record else kind,
            action=action,  # checked against ACTIONS above
            score=float(record.get("score", 1.0)),
            first_action_ts=parse_ts(_text(record, "first_action_ts")),
            requests=int(record.get("requests", 0)),
            subjects=int(record.get("subjects", 0)),
            subjects_before_action=int(record.get("subjects_before_action", 0)),
            rules=_list(record, "rules"),
            reasons=_list(record, "reasons"),
            members=members,
            members_first_action_ts=_member_times(record),
        )


def _text(record: dict[str, Any], name: str) -> str:
    if name not in record:
        raise ValueError(f"{name} is missing")
    value = record[name]
    if not isinstance(value, str):
        raise ValueError(f"{name} is not text")
    return value


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _list(record: dict[str, Any], name: str) -> list[str]:
    value = record.get(name, [])
    if not _texts(value):
        raise ValueError(f"{name} is not a list of text")
    return list(value)


def _member_times(record: dict[str, Any]) -> list[datetime] | None:
    """Per-member times when the file has them and they line up; else None (the decision's
    own time then applies to every member, as in files written before the field existed)."""
    times, members = record.get("members_first_action_ts"), record.get("members")
    if not isinstance(times, list) or not isinstance(members, list) or len(times) != len(members):
        return None
    return [parse_ts(t) for t in times]


def format_ts(ts: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as the event contract writes times."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def parse_ts(text: str) -> datetime:
    """An RFC 3339 time (UTC without an offset); ValueError for anything else."""
    if not isinstance(text, str):
        raise ValueError(f"{type(text).__name__} is not an RFC 3339 time")
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def write_decisions(decisions: Iterable[Decision], out: IO[str]) -> int:
    count = 0
    for decision in decisions:
        out.write(json_text(decision.to_json()) + "\n")
        count += 1
    return count


def decision_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """Each non-blank line of a decisions file (ours or another tool's), JSON-decoded, with
    its line number; a byte-order mark (as Windows tools write) is skipped. A file that cannot
    be opened, bytes that are not UTF-8 and text that is not JSON are SourceErrors naming the
    file and line (`report affected`, `eval`, `export`: exit 2, no traceback)."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise SourceError(f"{path}: cannot read decisions: {exc.strerror}") from None
    with handle:
        for number, raw in enumerate(handle, 1):
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            try:
                yield number, json.loads(raw.decode("utf-8"))
            except ValueError as exc:  # UnicodeDecodeError is a ValueError
                raise SourceError(f"{path}:{number}: not a decision: {exc}") from None


def read_decisions(path: Path) -> Iterator[Decision]:
    """The decisions of a file, with located errors (`decision_lines`)."""
    for number, record in decision_lines(path):
        try:
            yield Decision.from_json(record)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SourceError(f"{path}:{number}: not a decision: {exc}") from None
