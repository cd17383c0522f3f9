"""Live-side hardening: where a challenge sends the browser back to, and canary keys."""

from __future__ import annotations

import pytest

from scrapeguard.enforce.page import challenge_page, safe_next

# Each of these is `//evil.example` (another host) once a browser parses it as a URL:
# tabs and newlines are dropped anywhere, backslashes read as slashes, leading blanks trimmed.
LEAVING = ["/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "\t//evil.example",
           "/\\evil.example", "\\/evil.example", " //evil.example", "/\x00/evil.example",
           "/\x0b/evil.example", "/\u3000/evil.example", "//evil.example",
           "https://evil.example", "evil.example", "/" + "a" * 5000]


@pytest.mark.parametrize("target", LEAVING)
def test_next_never_leaves_the_site(target: str) -> None:
    assert safe_next(target) == "/"
    assert 'name="next" value="/"' in challenge_page("seed", 9, target).decode()


@pytest.mark.parametrize("target", ["/user/1?x=2", "/a/b/", "/search?q=%22%3E", "/~jo/%E2%82%AC"])
def test_next_keeps_same_site_paths(target: str) -> None:
    assert safe_next(target) == target
