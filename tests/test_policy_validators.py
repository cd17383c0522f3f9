"""The validator classes: each finds its problem, at the right place, with its severity."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scrapeguard.errors import Location, PolicyIssue
from scrapeguard.policy import validators
from scrapeguard.policy.load import check_policy
from scrapeguard.policy.model import Policy
from scrapeguard.policy.validators import Loc


class FlatLocator:
    """Locations that just echo the path, to test validators without a file."""

    def __call__(self, loc: Loc, offset: int | None = None) -> Location:
        return Location(validators.dotted(loc), None, offset)

    def name(self, loc: Loc) -> str:
        return validators.dotted(loc)


def rule(when: str, window: str = "1h", rule_id: str = "r") -> dict[str, str]:
    return {"id": rule_id, "kind": "ip", "window": window, "when": when, "action": "block"}


def run(validator: validators.PolicyValidator, **policy: object) -> list[PolicyIssue]:
    return validator.validate(Policy.model_validate(policy), FlatLocator())


def test_every_validator_is_registered() -> None:
    classes = {type(v) for v in validators.VALIDATORS}
    assert classes == set(validators.PolicyValidator.__subclasses__())


@pytest.mark.parametrize(
    ("when", "warned"),
    [
        ("gap_cv < 0.2", True),
        ("requests >= 20 and gap_cv < 0.2", False),
        ("gap_cv < 0.2 or requests >= 20", True),  # no conjunct every match needs
        ("subjects >= max(2000, 3 * p99(subjects))", False),
        ("20 <= requests", False),
    ],
)
def test_volume_floor(when: str, warned: bool) -> None:
    issues = run(validators.VolumeFloor(), rules=[rule(when)])
    assert bool(issues) is warned
    assert all(i.severity == "warning" for i in issues)


@pytest.mark.parametrize(
    ("when", "warned"),
    [
        ("subjects >= 3 * p99(subjects)", True),
        ("requests >= 10 and subjects >= p99_9(subjects)", True),
        ("subjects >= max(500, 3 * p99(subjects))", False),
        ("subjects >= 300", False),
        ("gap_cv < p5(gap_cv) and requests >= 30", False),  # an upper bound on a ratio
    ],
)
def test_percentile_floor(when: str, warned: bool) -> None:
    issues = run(validators.PercentileFloor(), rules=[rule(when)])
    assert bool(issues) is warned
    if warned:
        assert issues[0].severity == "warning"
        assert "no absolute floor" in issues[0].message


def test_percentile_floor_points_at_the_comparison(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent("""\
        rules:
          - id: daily
            kind: account
            window: 1d
            when: requests >= 10 and subjects >= 3 * p99(subjects)
            action: block
        """))
    [issue] = check_policy(path)
    assert (issue.location.line, issue.location.column) == (5, 30)


def test_short_window_on_subjects() -> None:
    [issue] = run(validators.ShortSubjectWindow(), rules=[rule("subjects >= 10", window="5s")])
    assert issue.severity == "warning"
    assert issue.location.path == "rules[0].window"
    assert run(validators.ShortSubjectWindow(), rules=[rule("subjects >= 10", window="10s")]) == []
    assert run(validators.ShortSubjectWindow(), rules=[rule("requests >= 10", window="5s")]) == []


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/user/{id}/friend/{id}", "appears twice"),
        ("user/{id}", "must start with '/'"),
        ("/user/{id", "unbalanced brace"),
        ("/user/{user id}", "is not a name"),
    ],
)
def test_route_template_errors(path: str, problem: str) -> None:
    route = {"name": "profile", "path": path, "records_per_hit": 2}
    [issue] = run(validators.RouteTemplate(), routes=[route])
    assert issue.severity == "error"
    assert problem in issue.message
    assert issue.location.path == "routes[0].path"


def test_route_template_accepts_good_paths() -> None:
    route = {"name": "p", "path": "/shop/{shop}/user/{id}", "subject": "id"}
    assert run(validators.RouteTemplate(), routes=[route]) == []


def test_duplicate_route_names() -> None:
    routes = [{"name": "p", "path": "/a/{id}", "subject": "id"},
              {"name": "p", "path": "/b/{id}", "subject": "id"}]
    [issue] = run(validators.DuplicateRouteNames(), routes=routes)
    assert issue.location.path == "routes[1].name"
    assert issue.severity == "error"


def test_networks() -> None:
    issues = run(validators.NetworkSyntax(), allowlist={"cidrs": ["10.0.0.0/8", "10.0.0/8"]},
                 trusted_proxies=["::1", "fe80::/129"])
    assert [i.location.path for i in issues] == ["allowlist.cidrs[1]", "trusted_proxies[1]"]
    assert all(i.severity == "error" for i in issues)


def test_host_bits_are_a_warning() -> None:
    [issue] = run(validators.NetworkHostBits(), allowlist={"cidrs": ["10.0.0.1/8", "10.0.0.1"]})
    assert issue.severity == "warning"
    assert "read as 10.0.0.0/8" in issue.message


def test_condition_syntax_names_the_rule() -> None:
    [issue] = run(validators.ConditionSyntax(), rules=[rule("requests >= 1 and reqests > 2")])
    assert issue.severity == "error"
    assert "rule 'r'" in issue.message
    assert "did you mean 'requests'?" in issue.message
    assert issue.location.column == len("requests >= 1 and ")  # offset of the bad name
