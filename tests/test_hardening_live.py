"""Live-side hardening: where a challenge sends the browser back to, and canary keys."""

from __future__ import annotations

import base64
import random
from typing import Any

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


def _echo_client_app(trusted: list[str]) -> Any:
    """The middleware around an app that answers with the address the middleware resolved."""
    from scrapeguard.enforce import ScrapeGuardMiddleware

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = scope["scrapeguard"].keys["ip"].encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})

    return ScrapeGuardMiddleware(app, trusted_proxies=trusted, secret=b"test secret")


def test_the_test_servers_let_scrapeguard_resolve_forwarded_for() -> None:
    """uvicorn believes X-Forwarded-For from loopback by default (docs/live.md); the test
    servers turn that off, so the middleware's own `trusted_proxies` decide."""
    import httpx

    from test_middleware_servers import serve

    spoofed = {"x-forwarded-for": "198.51.100.66"}
    with serve(_echo_client_app([]), warm=False) as url:
        assert httpx.get(url + "/", headers=spoofed).text == "127.0.0.1"
    with serve(_echo_client_app(["127.0.0.1"]), warm=False) as url:
        assert httpx.get(url + "/", headers=spoofed).text == "198.51.100.66"
