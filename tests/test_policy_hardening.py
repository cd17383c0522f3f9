"""A policy file cannot stall the loader, and risky settings are named at their line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from scrapeguard.errors import PolicyError
from scrapeguard.policy.load import check_policy, load_policy


def _bomb(levels: int) -> str:
    """Aliases of aliases: `levels` levels of nine, 9**levels strings from ~300 bytes."""
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    names = "abcdefghijklmnop"
    for level in range(1, levels):
        name, inner = names[level], names[level - 1]
        lines.append(f"{name}: &{name} [{','.join([f'*{inner}'] * 9)}]")
    lines.append(f"traps: *{names[levels - 1]}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [6, 9])
def test_an_alias_bomb_is_refused_at_its_line_within_a_second(tmp_path: Path,
                                                              levels: int) -> None:
    policy = tmp_path / "bomb.yaml"
    policy.write_text(_bomb(levels), encoding="utf-8")
    assert len(policy.read_bytes()) < 400
    start = time.perf_counter()
    issues = check_policy(policy)
    assert time.perf_counter() - start < 1.0
    assert len(issues) == 1, issues
    assert "alias" in issues[0].message
    assert issues[0].location.line == levels  # the anchor whose repeats add the most
    with pytest.raises(PolicyError):
        load_policy(policy)


def test_an_alias_of_its_own_block_is_refused(tmp_path: Path) -> None:
    policy = tmp_path / "loop.yaml"
    policy.write_text("traps: &t\n  - /x\n  - *t\n", encoding="utf-8")
    issues = check_policy(policy)
    assert [i.location.line for i in issues] == [1]
    assert "refers to the block that contains it" in issues[0].message


def test_a_few_aliases_still_load(tmp_path: Path) -> None:
    policy = tmp_path / "fine.yaml"
    policy.write_text(
        "allowlist:\n  cidrs: &office [192.0.2.0/24, 198.51.100.0/24]\n"
        "trusted_proxies: *office\n", encoding="utf-8")
    loaded = load_policy(policy)
    assert loaded.trusted_proxies == ["192.0.2.0/24", "198.51.100.0/24"]


@pytest.mark.parametrize("wide", ["0.0.0.0/0", "::/0", "0.0.0.0/1", "::ffff:0:0/96",
                                  "2000::/3"])
def test_a_trusted_proxy_range_that_trusts_the_internet_is_warned_of(tmp_path: Path,
                                                                      wide: str) -> None:
    policy = tmp_path / "proxies.yaml"
    policy.write_text(f"trusted_proxies:\n  - 10.0.0.0/8\n  - 173.245.48.0/20\n"
                      f"  - 2a06:98c0::/29\n  - '{wide}'\n", encoding="utf-8")
    issues = check_policy(policy)
    assert [(i.severity, i.location.line) for i in issues] == [("warning", 5)], issues
    assert "X-Forwarded-For" in issues[0].message
    assert load_policy(policy).trusted_proxies[-1] == wide  # a warning: it still loads


@pytest.mark.parametrize(("text", "where", "words"), [
    ("version: 1\nrules:\n  - id: a\x1b[31m\n", (3, 10), "not allowed"),
    ("version: 1\nx: " + "{a: " * 2000 + "1" + "}" * 2000 + "\n", None, "nested more than"),
    ("version: 1\nx: " + "[" * 80 + "]" * 80 + "\n", None, "nested more than"),
], ids=["control-character", "nested-2000", "nested-80"])
def test_hostile_yaml_is_a_located_error_not_a_crash(tmp_path: Path, text: str,
                                                     where: tuple[int, int] | None,
                                                     words: str) -> None:
    """Fuzzing found a control character raising yaml's ReaderError and deep nesting
    exhausting the recursion limit; both are policy errors like any other."""
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    issues = check_policy(path)
    assert issues, "a hostile policy must be reported"
    assert any(words in issue.message for issue in issues), issues
    if where is not None:
        assert (issues[0].location.line, issues[0].location.column) == where
