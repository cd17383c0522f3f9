"""Live-side hardening: where a challenge sends the browser back to, and canary keys."""

from __future__ import annotations

import base64
import random

import pytest

from scrapeguard.canary.keys import KEY_ENV, CanaryError, key_from_env
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


@pytest.mark.parametrize("weak", [
    "password12345678",                      # typed text: 83 bits at most
    "00" * 16, "0" * 64,                     # all zeros, as hex
    "ab" * 32,                               # one byte repeated
    "0123456789abcdef" * 2,                  # 8 distinct bytes in 16
    "".join(f"{n:02x}" for n in range(32)),  # a counting sequence
    "passwordpasswordpasswordpassword",      # long enough, but 7 letters
])
def test_a_weak_canary_key_from_the_environment_is_refused(
        weak: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, weak)
    with pytest.raises(CanaryError, match=f"{KEY_ENV} is (not a random key|too short)"):
        key_from_env()


@pytest.mark.parametrize("seed", range(200))
def test_random_canary_keys_are_accepted(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    raw = rng.randbytes(16 + seed % 17)
    for text in (raw.hex(), base64.urlsafe_b64encode(raw).decode().rstrip("=")):
        monkeypatch.setenv(KEY_ENV, text)
        assert key_from_env()
