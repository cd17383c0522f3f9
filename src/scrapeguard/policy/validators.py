"""Checks on a policy beyond its shape, as small validator classes that return issues.

The pydantic model says what a policy must look like; these say what makes a rule pack wrong
or risky: a condition outside the language, a rule a single request could fire, a network
that does not parse. Each check is one class with a severity, so adding one touches this file
and its test, and `scrapeguard policy check` reports them all at once with file positions.
"""

from __future__ import annotations

import ast
import difflib
import ipaddress
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Literal, Protocol

from scrapeguard.errors import Location, PolicyIssue
from scrapeguard.features import BY_NAME
from scrapeguard.policy import expr
from scrapeguard.policy.model import Policy, Rule
from scrapeguard.policy.patterns import PatternError, compile_pattern, policy_patterns

Severity = Literal["error", "warning"]
Loc = tuple[str | int, ...]
"""A path into the policy document, as pydantic reports it: `("rules", 3, "when")`."""

MIN_SUBJECTS_WINDOW_SECONDS = 10


class Locator(Protocol):
    """Turns a path into the policy (and optionally a character offset inside that scalar's
    value) into a file position; `name` is the path as it reads in that file (a merged or
    partly invalid policy numbers its lists differently from the file)."""

    def __call__(self, loc: Loc, offset: int | None = None) -> Location: ...

    def name(self, loc: Loc) -> str: ...


class PolicyValidator(ABC):
    """One check over a whole policy; reports problems as issues and never raises."""

    severity: ClassVar[Severity] = "error"

    @abstractmethod
    def validate(self, policy: Policy, locate: Locator) -> list[PolicyIssue]: ...

    def issue(
        self, locate: Locator, loc: Loc, message: str, *, offset: int | None = None
    ) -> PolicyIssue:
        return PolicyIssue(locate(loc, offset), f"{locate.name(loc)}: {message}", self.severity)


def dotted(loc: Loc) -> str:
    """`("rules", 3, "when")` as `rules[3].when`, the way issues name a place."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@lru_cache(maxsize=1024)
def condition(source: str) -> expr.Condition | expr.ExpressionError:
    """A rule's parsed condition, or the error; parsed once however many checks ask."""
    try:
        return expr.parse(source)
    except expr.ExpressionError as exc:
        return exc.with_traceback(None)  # cached: keep no frames alive


def _conditions(policy: Policy) -> Iterator[tuple[int, Rule, expr.Condition]]:
    for number, rule in enumerate(policy.rules):
        parsed = condition(rule.when)
        if isinstance(parsed, expr.Condition):
            yield number, rule, parsed


class ConditionSyntax(PolicyValidator):
    """A `when` outside the condition language; located at the offending character."""

    def validate(self, policy: Policy, locate: Locator) -> list[PolicyIssue]:
        issues = []
        for number, rule in enumerate(policy.rules):
            parsed = condition(rule.when)
            if isinstance(parsed, expr.ExpressionError):
                line = _error_line(rule.when, parsed)
                offset = _expression_offset(rule.when, parsed.column, line)
                message = f"rule {rule.id!r}: {parsed}{_feature_hint(rule.when)}"
                issues.append(
                    self.issue(locate, ("rules", number, "when"), message, offset=offset)
                )
        return issues


def _feature_hint(source: str) -> str:
    """`(did you mean 'seq_steps'?)` for a misspelt feature name, when one is close."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        return ""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in BY_NAME:
            close = difflib.get_close_matches(node.id, list(BY_NAME), n=1, cutoff=0.6)
            if close:
                return f" (did you mean {close[0]!r}?)"
    return ""


def _expression_offset(source: str, column: int, line: int | None = 1) -> int | None:
    """Where, in the YAML value, a 1-based (line, column) of the stripped condition points.

    `expr.parse` strips the source first, so both count from its first non-blank character.
    An unknown line (None) points at the start of the value.
    """
    stripped = source.strip()
    lines = stripped.split("\n")
    if line is None or not 1 <= line <= len(lines):
        return None
    before = sum(len(text) + 1 for text in lines[: line - 1])
    width = max(len(lines[line - 1]), 1)
    lead = len(source) - len(source.lstrip())
    return lead + before + min(max(column, 1), width) - 1


def _error_line(source: str, error: expr.ExpressionError) -> int | None:
    """The line of a multi-line condition an error is on; `ExpressionError` has only a column.

    A syntax error names its line; an unknown name is found again in the tree; anything else
    on a multi-line condition stays unplaced.
    """
    stripped = source.strip()
    if "\n" not in stripped:
        return 1
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        return exc.lineno
    for node in ast.walk(tree):
        if (isinstance(node, ast.Name) and node.col_offset + 1 == error.column
                and node.id not in BY_NAME):
            return node.lineno
    return None


class VolumeFloor(PolicyValidator):
    """A condition with no `count >= n` it cannot hold without.

    Without such a floor the batch engine cannot skip quiet windows (it replays every event of
    every window), and a rule that one request can satisfy is rarely what was meant. A
    percentile threshold counts at its least value (`max(2000, 3 * p99(x))` floors at 2000).
    """

    severity = "warning"

    def validate(self, policy: Policy, locate: Locator) -> list[PolicyIssue]:
        return [
            self.issue(
                locate,
                ("rules", number, "when"),
                f"rule {rule.id!r}: the condition has no volume floor (a conjunct like "
                "`requests >= 20` on a count); the batch engine must replay every window and "
                "a single request could trigger it",
            )
            for number, rule, parsed in _conditions(policy)
            if not _zeroed(parsed).volume_floors()
        ]


def _zeroed(parsed: expr.Condition) -> expr.Condition:
    """Percentiles at 0, their least value: what remains of a threshold on a quiet site."""
    return parsed.resolve(dict.fromkeys(parsed.percentiles, 0.0))


class PercentileFloor(PolicyValidator):
    """A percentile threshold that falls to nothing on a quiet site.

    `subjects >= 3 * p99(subjects)` fires on anyone when the site's own traffic is thin;
    `max(500, 3 * p99(subjects))` keeps an absolute floor under it.
    """

    severity = "warning"

    def validate(self, policy: Policy, locate: Locator) -> list[PolicyIssue]:
        issues = []
        for number, rule, parsed in _conditions(policy):
            for node in ast.walk(parsed.tree):
                if not isinstance(node, ast.Compare) or not _has_percentile(node):
                    continue
                compare = expr.Condition(ast.unparse(node), node)
                floors = _zeroed(compare).volume_floors()
                if floors and all(value <= 0 for _, value in floors):
                    issues.append(self.issue(
                        locate,
                        ("rules", number, "when"),
                        f"rule {rule.id!r}: `{compare.source}` has no absolute floor; on a "
                        "site with little traffic the percentile is near 0 and anyone "
                        "crosses it (write e.g. `max(500, 3 * p99(subjects))`)",
                        offset=_node_offset(rule.when, node),
                    ))
        return issues


def _has_percentile(node: ast.expr) -> bool:
    return bool(expr.Condition(ast.unparse(node), node).percentiles)


def _node_offset(source: str, node: ast.expr) -> int | None:
    return _expression_offset(source, node.col_offset + 1, node.lineno)


class ShortSubjectWindow(PolicyValidator):
    """An exposure count over a window too short to accumulate one."""

    severity = "warning"

    def validate(self, policy: Policy, locate: Locator) -> list[PolicyIssue]:
        return [
            self.issue(
                locate,
                ("rules", number, "window"),
                f"rule {rule.id!r}: counts `subjects` over {rule.window}; windows under "
                f"{MIN_SUBJECTS_WINDOW_SECONDS}s see a handful of records at most, and "
                "harvesters pace themselves over minutes",
            )
            for number, rule, parsed in _conditions(policy)
            if "subjects" in parsed.features and rule.window_seconds < MIN_SUBJECTS_WINDOW_SECONDS
        ]


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class RouteTemplate(PolicyValidator):
    """A route path that is not `/literal/{name}/…` with distinct placeholder names."""

    def validate(self, policy: Policy, locate: Locator) -> list[PolicyIssue]:
        issues = []
        for number, route in enumerate(policy.routes):
            problem = _template_problem(route.path)
            if problem:
                issues.append(self.issue(
                    locate, ("routes", number, "path"), f"route {route.name!r}: {problem}"
                ))
        return issues


def _template_problem(path: str) -> str | None:
    if not path.startswith("/"):
        return f"path {path!r} must start with '/'"
    names = _PLACEHOLDER.findall(path)
    if "{" in _PLACEHOLDER.sub("", path) or "}" in _PLACEHOLDER.sub("", path):
        return f"path {path!r} has an unbalanced brace"
    for name in names:
        if not name.isidentifier():
            return f"placeholder {{{name}}} in {path!r} is not a name"
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        return f"placeholder {{{duplicates[0]}}} appears twice in {path!r}"
    return None


class PatternCompiles(PolicyValidator):
    """A trap, route or extension list that RE2 refuses (most often: too large to compile).

    The engines run every policy pattern on RE2 so matching stays linear in the path; a
    pattern RE2 cannot take is reported here rather than at the first request.
    """

    def validate(self, policy: Policy, locate: Locator) -> list[PolicyIssue]:
        issues = []
        for loc, pattern in policy_patterns(policy):
            try:
                compile_pattern(pattern)
            except PatternError as exc:
                issues.append(self.issue(locate, loc, f"cannot be matched: {exc}"))
        return issues


class DuplicateRouteNames(PolicyValidator):
    """Two routes with one name: reports and decisions could not say which was meant."""

    def validate(self, policy: Policy, locate: Locator) -> list[PolicyIssue]:
        seen: set[str] = set()
        issues = []
        for number, route in enumerate(policy.routes):
            if route.name in seen:
                issues.append(self.issue(
                    locate, ("routes", number, "name"), f"route name {route.name!r} is used twice"
                ))
            seen.add(route.name)
        return issues


def _network_lists(policy: Policy) -> Iterator[tuple[Loc, str]]:
    for prefix, values in ((("allowlist", "cidrs"), policy.allowlist.cidrs),
                           (("trusted_proxies",), policy.trusted_proxies)):
        for number, value in enumerate(values):
            yield (*prefix, number), value


def _parsed_networks(policy: Policy) -> Iterator[
        tuple[Loc, str, ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    """The networks that parse, as `_network_lists` names them; NetworkSyntax reports the rest."""
    for loc, value in _network_lists(policy):
        try:
            yield loc, value, ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            continue


class NetworkSyntax(PolicyValidator):
    """Allowlisted networks and trusted proxies that do not parse as addresses or CIDRs."""

    def validate(self, policy: Policy, locate: Locator) -> list[PolicyIssue]:
        issues = []
        for loc, value in _network_lists(policy):
            try:
                ipaddress.ip_network(value.strip(), strict=False)
            except ValueError as exc:
                issues.append(self.issue(locate, loc, f"bad network: {exc}"))
        return issues


class NetworkHostBits(PolicyValidator):
    """`10.0.0.1/8`: host bits set, usually a typo for the network or for one address."""

    severity = "warning"

    def validate(self, policy: Policy, locate: Locator) -> list[PolicyIssue]:
        issues = []
        for loc, value, network in _parsed_networks(policy):
            if network != _strict_network(value.strip()):
                issues.append(self.issue(
                    locate, loc, f"{value!r} has host bits set; it is read as {network}"
                ))
        return issues


class LogFormatSyntax(PolicyValidator):
    """A `log_format` that cannot read a single event (no time or no client address)."""

    def validate(self, policy: Policy, locate: Locator) -> list[PolicyIssue]:
        if policy.log_format is None:
            return []
        from scrapeguard.errors import SourceError
        from scrapeguard.sources.nginx import nginx_format

        try:
            nginx_format(policy.log_format)
        except SourceError as exc:
            return [self.issue(locate, ("log_format",), str(exc))]
        return []


WIDE_PREFIX = {4: 8, 6: 20}
"""Ranges wider than a /8 (IPv4) or a /20 (IPv6) are no one's set of proxies: the widest
published CDN ranges are a /10 and a /29."""

_MAPPED = ipaddress.ip_network("::ffff:0:0/96")


def _too_wide(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    if network.prefixlen < WIDE_PREFIX[network.version]:
        return True
    # IPv4-mapped IPv6 counts as IPv4, so `::ffff:0:0/96` is 0.0.0.0/0 in disguise.
    return (isinstance(network, ipaddress.IPv6Network) and network.overlaps(_MAPPED)
            and network.prefixlen - 96 < WIDE_PREFIX[4])


class WideNetwork(PolicyValidator):
    """A trusted proxy or allowlisted range so wide it trusts much of the internet.

    A trusted proxy's `X-Forwarded-For` names the client, so trusting `0.0.0.0/0` lets every
    client write its own address and be anyone; allowlisting it lets everyone through unjudged.
    """

    severity = "warning"

    def validate(self, policy: Policy, locate: Locator) -> list[PolicyIssue]:
        issues = []
        for loc, value, network in _parsed_networks(policy):
            if not _too_wide(network):
                continue
            if loc[0] == "trusted_proxies":
                consequence = ("every client in it can write any address into X-Forwarded-For "
                               "and be counted as that address")
            else:
                consequence = "every client in it is let through without judgement"
            issues.append(self.issue(
                locate, loc, f"{value!r} covers {network.num_addresses:,} addresses; "
                f"{consequence}. List your own proxies' (or partners') ranges instead",
            ))
        return issues


def _strict_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        return None


class NetworkFiles(PolicyValidator):
    """The ASN database and hosting lists the policy names open and read (`netinfo.py`): a
    missing or corrupt file is found when the policy is checked, not at the first request."""

    def validate(self, policy: Policy, locate: Locator) -> list[PolicyIssue]:
        from scrapeguard.netinfo import HostingList, NetworkDataError, NetworkDirectory

        issues = []
        if policy.networks.asn_db:
            try:
                NetworkDirectory(policy.networks.asn_db).close()
            except NetworkDataError as exc:
                issues.append(self.issue(locate, ("networks", "asn_db"), str(exc)))
        for number, path in enumerate(policy.networks.hosting):
            try:
                HostingList([Path(path)])
            except NetworkDataError as exc:
                issues.append(self.issue(locate, ("networks", "hosting", number), str(exc)))
        return issues


VALIDATORS: tuple[PolicyValidator, ...] = (
    ConditionSyntax(),
    VolumeFloor(),
    PercentileFloor(),
    ShortSubjectWindow(),
    RouteTemplate(),
    PatternCompiles(),
    DuplicateRouteNames(),
    NetworkSyntax(),
    NetworkHostBits(),
    LogFormatSyntax(),
    WideNetwork(),
    NetworkFiles(),
)
"""Every check `check_policy` runs, in report order."""


def validate(
    policy: Policy, locate: Locator, validators: tuple[PolicyValidator, ...] = VALIDATORS
) -> list[PolicyIssue]:
    """Every issue every validator finds."""
    return [issue for v in validators for issue in v.validate(policy, locate)]
