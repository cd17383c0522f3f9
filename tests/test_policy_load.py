"""Loading rule packs: every error located at file:line:column, merge onto the default pack."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from scrapeguard.errors import PolicyError, PolicyIssue
from scrapeguard.policy.load import check_policy, default_pack, load_policy

BASE = """\
version: 1
settings:
  seq_step: 5
  min_template_ids: 40
allowlist:
  cidrs: [192.0.2.0/24]
  accounts: [monitor]
trusted_proxies: [10.0.0.0/8]
traps: [/base-trap]
routes:
  - name: profile
    path: /user/{id}
    subject: id
rules:
  - id: alpha
    kind: ip
    when: requests >= 100
    action: throttle
  - id: beta
    kind: ip
    when: subjects >= 50
    action: block
  - id: gamma
    kind: account
    when: misses >= 30 and miss_ratio > 0.5
    action: challenge
"""


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors(issues: list[PolicyIssue]) -> list[PolicyIssue]:
    return [i for i in issues if i.severity == "error"]


def at(issues: list[PolicyIssue], line: int) -> PolicyIssue:
    found = [i for i in issues if i.location.line == line]
    assert len(found) == 1, issues
    return found[0]


def test_default_pack_loads_without_errors() -> None:
    policy = load_policy(None)
    assert policy.rules
    assert policy.extends is None
    assert errors(check_policy(None)) == []
    assert Path(str(default_pack())).name == "default.yaml"


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        version: 1
        rules:
          - id: a
            kind: ip
            when: requests >= 10
           action: block
        """)
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    [issue] = raised.value.issues
    assert (issue.location.path, issue.location.line, issue.location.column) == (str(path), 6, 4)
    assert issue.message.startswith("YAML syntax:")
    assert f"{path}:6:4: error: YAML syntax" in str(raised.value)


def test_unclosed_quote_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, 'rules:\n  - id: "a\n    kind: ip\n')
    [issue] = check_policy(path)
    assert issue.location.line == 4  # yaml reports where the stream ended inside the quote
    assert "YAML syntax" in issue.message


def test_unknown_key_is_located_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        rules:
          - id: many
            kind: ip
            when: requests >= 10
            acton: block
        """)
    issues = check_policy(path)
    unknown = at(issues, 5)
    assert unknown.location.column == 5
    assert "unknown key 'acton'" in unknown.message
    assert "did you mean 'action'?" in unknown.message
    missing = at(issues, 2)  # the mapping the required key is missing from
    assert missing.location.column == 5
    assert "missing required key 'action'" in missing.message


def test_unknown_top_level_key_suggests(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\ntrusted_proxy: [10.0.0.1]\n")
    [issue] = check_policy(path)
    assert (issue.location.line, issue.location.column) == (2, 1)
    assert "did you mean 'trusted_proxies'?" in issue.message


def test_bad_action_is_located_at_the_value(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        rules:
          - id: many
            kind: ip
            when: requests >= 10
            action: blok
        """)
    [issue] = check_policy(path)
    assert (issue.location.line, issue.location.column) == (5, 13)
    assert issue.message.startswith("rules[0].action:")
    assert "did you mean 'block'?" in issue.message


@pytest.mark.parametrize(
    ("value", "line", "column"),
    [
        ("requests >= 10 and sequential > 3", 4, 30),
        ('"requests >= 10 and sequential > 3"', 4, 31),
        ("'requests >= 10 and sequential > 3'", 4, 31),
        (">\n      requests >= 10\n      and sequential > 3", 6, 11),
        ("  requests >= 10 and sequential > 3", 4, 32),
        ("|\n      (requests >= 10\n       and sequential > 3)", 6, 12),
    ],
    ids=["plain", "double-quoted", "single-quoted", "folded", "leading-space", "literal-lines"],
)
def test_bad_condition_is_located_at_the_unknown_feature(
    tmp_path: Path, value: str, line: int, column: int
) -> None:
    path = write(tmp_path, (
        "rules:\n  - id: enum\n    kind: ip\n"
        f"    when: {value}\n"
        "    action: block\n"
    ))
    [issue] = check_policy(path)
    assert (issue.location.line, issue.location.column) == (line, column)
    assert "unknown feature 'sequential'" in issue.message
    text = path.read_text().splitlines()[line - 1]
    assert text[column - 1:].startswith("sequential")


def test_condition_syntax_error_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        rules:
          - id: enum
            kind: ip
            when: requests >= 10 and seq_stps > 3
            action: block
        """)
    [issue] = check_policy(path)
    assert (issue.location.line, issue.location.column) == (4, 30)
    assert "did you mean 'seq_steps'?" in issue.message


@settings(max_examples=60, deadline=None)
@given(
    before=st.lists(st.sampled_from(["requests", "subjects", "misses"]), min_size=0, max_size=3),
    spaces=st.integers(min_value=0, max_value=3),
    style=st.sampled_from(["plain", "double", "single", "literal-block"]),
)
def test_condition_column_points_at_the_bad_name(
    tmp_path_factory: pytest.TempPathFactory, before: list[str], spaces: int, style: str
) -> None:
    """Wherever the bad name sits and however the scalar is quoted, the column is its start."""
    condition = " and ".join([*(f"{f} >= 1" for f in before), "bogus_feature > 2"])
    condition = " " * spaces + condition if style != "plain" else condition
    value = {
        "plain": condition,
        "double": f'"{condition}"',
        "single": f"'{condition}'",
        "literal-block": f"|\n      {condition}",
    }[style]
    path = tmp_path_factory.mktemp("p") / "policy.yaml"
    path.write_text(f"rules:\n  - id: r\n    kind: ip\n    when: {value}\n    action: block\n")
    [issue] = [i for i in check_policy(path) if i.severity == "error"]
    assert issue.location.line is not None
    assert issue.location.column is not None
    line = path.read_text().splitlines()[issue.location.line - 1]
    assert line[issue.location.column - 1:].startswith("bogus_feature")


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.sampled_from(
        ["", "ip", "block", "blok", "1h", "0s", "/user/{id}", "10.0.0.0/8", "10.0.0.0/33",
         "requests >= 5", "requests >=", "nope > 1", "default", "subjects >= p99(subjects)"]
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "kind", "when", "action", "window", "name", "path", "subject",
                         "enabled", "cidrs", "rules", "routes", "extends", "settings", "x"]),
        inner, max_size=5,
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(document=st.dictionaries(
    st.sampled_from(["version", "extends", "settings", "allowlist", "trusted_proxies", "traps",
                     "routes", "rules", "rulez"]),
    yaml_values, max_size=6,
))
def test_check_never_raises_and_always_locates(
    tmp_path_factory: pytest.TempPathFactory, document: dict[str, object]
) -> None:
    """Bad input gets a clear, located message, never a crash."""
    path = tmp_path_factory.mktemp("fuzz") / "policy.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    for issue in check_policy(path):
        if issue.location.path == str(path) and document:
            assert issue.location.line is not None, issue


def test_bad_cidr_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        allowlist:
          cidrs:
            - 10.0.0.0/8
            - 10.0.0.0/33
        trusted_proxies: [192.0.2.1, not-an-address]
        """)
    issues = check_policy(path)
    assert [(i.location.line, i.location.column) for i in issues] == [(4, 7), (5, 30)]
    assert issues[0].message.startswith("allowlist.cidrs[1]: bad network")
    assert issues[1].message.startswith("trusted_proxies[1]: bad network")


def test_check_collects_every_issue_of_a_file(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        version: 1
        rules:
          - id: first
            kind: ip
            when: requests >= 10
            action: blok
          - id: second
            kind: ip
            when: requests >= 10 and nonsense > 1
            action: block
          - id: third
            kind: ip
            when: subjects >= 500
            action: block
        allowlist:
          cidrs: [300.1.2.3/8]
        """)
    issues = check_policy(path)
    assert [(i.location.line, i.severity) for i in issues] == [
        (6, "error"), (9, "error"), (16, "error"),
    ]
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    assert len(raised.value.issues) == 3


def test_rule_errors_do_not_hide_route_errors(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        routes:
          - name: profile
            path: /user/{id}/friend/{id}
            subject: id
          - name: bad
            path: /x
        rules:
          - id: a
            kind: nobody
            when: requests >= 1
            action: block
        """)
    lines = {i.location.line for i in check_policy(path)}
    assert lines == {3, 5, 9}


def test_duplicate_keys_and_rule_ids_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        rules:
          - id: a
            kind: ip
            when: requests >= 10
            when: requests >= 20
            action: block
          - id: a
            kind: ip
            when: requests >= 10
            action: block
        """)
    issues = check_policy(path)
    assert [(i.location.line, i.location.column) for i in issues] == [(5, 5), (7, 9)]
    assert "'when' appears twice" in issues[0].message
    assert "rule id 'a' appears twice (first at line 2)" in issues[1].message


def test_not_a_mapping_and_empty_and_missing_files(tmp_path: Path) -> None:
    [listed] = check_policy(write(tmp_path, "- a\n- b\n"))
    assert "a policy is a mapping" in listed.message
    assert listed.location.line == 1
    [empty] = check_policy(write(tmp_path, "# nothing\n", "empty.yaml"))
    assert "empty" in empty.message
    [missing] = check_policy(tmp_path / "absent.yaml")
    assert "cannot read policy" in missing.message
    with pytest.raises(PolicyError):
        load_policy(tmp_path / "absent.yaml")


def test_extends_default_merges(tmp_path: Path) -> None:
    base = write(tmp_path, BASE, "base.yaml")
    path = write(tmp_path, """\
        extends: default
        settings:
          seq_step: 9
        allowlist:
          cidrs: [198.51.100.0/24]
          search_engines: false
        trusted_proxies: [172.16.0.0/12]
        traps: [/user-trap]
        routes:
          - name: orders
            path: /orders/{oid}
            subject: oid
        rules:
          - id: beta
            kind: account
            when: subjects >= 80
            action: challenge
          - id: gamma
            enabled: false
          - id: delta
            kind: ip
            when: trap_hits >= 1
            action: block
        """)
    policy = load_policy(path, base=base)
    assert [r.id for r in policy.rules] == ["alpha", "beta", "gamma", "delta"]
    beta = policy.rules[1]
    assert (beta.kind, beta.when, beta.action) == ("account", "subjects >= 80", "challenge")
    assert [r.id for r in policy.active_rules()] == ["alpha", "beta", "delta"]
    assert policy.rules[2].when == "misses >= 30 and miss_ratio > 0.5"  # kept, only disabled
    assert [r.name for r in policy.routes] == ["orders", "profile"]  # the site's first
    assert policy.traps == ["/base-trap", "/user-trap"]
    assert policy.trusted_proxies == ["10.0.0.0/8", "172.16.0.0/12"]
    assert policy.allowlist.cidrs == ["192.0.2.0/24", "198.51.100.0/24"]
    assert policy.allowlist.accounts == ["monitor"]
    assert policy.allowlist.search_engines is False
    assert policy.settings.seq_step == 9  # overridden
    assert policy.settings.min_template_ids == 40  # kept from the base
    assert policy.extends is None


def test_extends_the_shipped_default_pack(tmp_path: Path) -> None:
    shipped = load_policy(None)
    first = shipped.rules[0].id
    path = write(tmp_path, f"extends: default\nrules:\n  - id: {first}\n    enabled: false\n")
    policy = load_policy(path)
    assert [r.id for r in policy.rules] == [r.id for r in shipped.rules]
    assert first not in {r.id for r in policy.active_rules()}


def test_without_extends_the_file_replaces_the_pack(tmp_path: Path) -> None:
    path = write(tmp_path, "rules:\n  - id: only\n    kind: ip\n    when: requests >= 5\n"
                           "    action: throttle\n")
    assert [r.id for r in load_policy(path).rules] == ["only"]


def test_switching_an_unknown_rule_is_located_with_a_suggestion(tmp_path: Path) -> None:
    base = write(tmp_path, BASE, "base.yaml")
    path = write(tmp_path, "extends: default\nrules:\n  - id: gamme\n    enabled: false\n")
    [issue] = check_policy(path, base=base)
    assert (issue.location.path, issue.location.line, issue.location.column) == \
        (str(path), 3, 9)
    assert "no rule 'gamme'" in issue.message
    assert "did you mean 'gamma'?" in issue.message


def test_switch_without_extends_is_explained(tmp_path: Path) -> None:
    path = write(tmp_path, "rules:\n  - id: gamma\n    enabled: false\n")
    [issue] = check_policy(path)
    assert issue.location.line == 2
    assert "no `extends: default`" in issue.message


def test_errors_in_a_replacing_rule_point_into_the_user_file(tmp_path: Path) -> None:
    base = write(tmp_path, BASE, "base.yaml")
    path = write(tmp_path, """\
        extends: default
        rules:
          - id: beta
            kind: ip
            when: subjects >= 50 and wat > 1
            action: block
        """)
    [issue] = check_policy(path, base=base)
    assert (issue.location.path, issue.location.line, issue.location.column) == \
        (str(path), 5, 30)


def test_warnings_of_the_base_pack_stay_out_of_a_user_check(tmp_path: Path) -> None:
    base = write(tmp_path, BASE.replace("when: requests >= 100", "when: gap_cv < 0.1"),
                 "base.yaml")
    assert [i.location.line for i in check_policy(base)] == [17]
    user = write(tmp_path, "extends: default\ntraps: [/t]\n")
    assert check_policy(user, base=base) == []
    assert load_policy(user, base=base).traps == ["/base-trap", "/t"]


def test_extends_only_default(tmp_path: Path) -> None:
    path = write(tmp_path, "extends: mine\n")
    [issue] = check_policy(path)
    assert (issue.location.line, issue.location.column) == (1, 10)
    assert "only `extends: default`" in issue.message


def test_warnings_do_not_stop_loading(tmp_path: Path) -> None:
    path = write(tmp_path, "rules:\n  - id: timing\n    kind: ip\n    when: gap_cv < 0.1\n"
                           "    action: challenge\n")
    [issue] = check_policy(path)
    assert issue.severity == "warning"
    assert load_policy(path).rules[0].id == "timing"
