"""The guard must not become the leak: after a live run on a real Redis, no key and no value
names an address, an account, a session or a person looked up, in any encoding we can think
of. Every key is read whole, whatever its type (HyperLogLogs as their raw bytes)."""

from __future__ import annotations

import base64
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote

import pytest
import redis

from scrapeguard.policy.model import Policy
from test_middleware_support import demo_policy
from test_middleware_wsgi import guarded, wsgi_call

pytestmark = pytest.mark.redis

ENUMERATOR = "203.0.113.7"
BOTNET = [f"198.51.100.{n}" for n in range(10, 40)]
ACCOUNTS = ["alice.harvest@example.com", "bob_reader"]
SESSIONS = ["sess-7f3a9c21d04e", "Z" * 4000]
PHONES = [str(4155550100 + n) for n in range(40)]
"""Looked up at `/api/users/{phone}`, which names the phone number as its subject."""


def policy() -> Policy:
    """The shipped pack, plus a throttle on sessions so the throttle windows are written."""
    base = demo_policy().model_dump()
    base["rules"].append({"id": "test-session-throttle", "kind": "session", "window": "1h",
                          "when": "requests >= 3", "action": "throttle", "score": 0.3})
    return Policy.model_validate(base)


def encodings(text: str) -> set[bytes]:
    raw = text.encode()
    forms = {raw, raw.lower(), quote(text, safe="").encode(), raw.hex().encode(),
             base64.b64encode(raw), base64.urlsafe_b64encode(raw).rstrip(b"=")}
    if text.count(".") == 3 and text.replace(".", "").isdigit():  # an IPv4 address
        packed = bytes(int(p) for p in text.split("."))
        forms |= {packed, packed.hex().encode(), str(int.from_bytes(packed, "big")).encode(),
                  text.rsplit(".", 1)[0].encode() + b".0/24"}
    if text.isdigit():
        number = int(text)
        forms |= {number.to_bytes(8, "big"), number.to_bytes(8, "little"), f"{number:x}".encode()}
    return {f for f in forms if len(f) >= 4}


def everything(client: redis.Redis) -> list[tuple[str, bytes, bytes]]:
    """(type, key, every byte of its value) for each key in the database."""
    out = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        value: Any
        if kind == "none":  # expired since the scan saw it (a throttle window of seconds)
            continue
        if kind == "string":
            value = client.get(key) or b""  # HyperLogLogs too: their raw bytes
        elif kind == "hash":
            value = b"\0".join(k + b"=" + v for k, v in client.hgetall(key).items())
        elif kind == "set":
            value = b"\0".join(client.smembers(key))
        elif kind == "zset":
            value = b"\0".join(m + b"=" + str(s).encode()
                               for m, s in client.zrange(key, 0, -1, withscores=True))
        elif kind == "list":
            value = b"\0".join(client.lrange(key, 0, -1))
        else:
            raise AssertionError(f"unexpected type {kind} at {key!r}")
        out.append((kind, key, value))
    return out


def app_session(environ: dict[str, Any]) -> str | None:
    """The app's own session cookie, handed to the guard as a `session` hook would."""
    jar = SimpleCookie(environ.get("HTTP_COOKIE", ""))
    return jar["session"].value if "session" in jar else None


def test_no_clear_personal_data_in_redis(redis_url: str) -> None:
    app = guarded(store=f"{redis_url}?prefix=sg:", policy=policy(), secret=b"k" * 32,
                  throttle_rate="1/hour",
                  account=lambda environ: environ.get("HTTP_X_ACCOUNT"), session=app_session)
    statuses = []
    for n, phone in enumerate(PHONES):  # an enumerator, logged in, with a cookie
        statuses.append(wsgi_call(app, f"/api/users/{phone}", client=ENUMERATOR, headers={
            "X-Account": ACCOUNTS[0], "Cookie": f"session={SESSIONS[n % 2]}"}).status)
    for n, address in enumerate(BOTNET):  # a botnet, each address a few direct lookups
        for k in range(4):
            phone = PHONES[(n * 4 + k) % len(PHONES)]
            wsgi_call(app, f"/user/{phone}", client=address,
                      headers={"Cookie": f"session=bot-{address}"} if n % 2 else None)
    for k in range(5):
        wsgi_call(app, "/", client="192.0.2.55", headers={"X-Account": ACCOUNTS[1]})
        wsgi_call(app, f"/api/users/{PHONES[k]}", client="192.0.2.55",
                  headers={"X-Account": ACCOUNTS[1], "Cookie": f"session={SESSIONS[0]}"})
    assert 403 in statuses or 429 in statuses, statuses  # decisions were taken and stored

    client = redis.Redis.from_url(redis_url)
    stored = everything(client)
    kinds = {kind for kind, _, _ in stored}
    assert {"string", "hash", "set", "list"} <= kinds, kinds  # throttle windows are lists
    assert any(k.startswith(b"sg:d:") for _, k, _ in stored)  # decisions
    assert any(b":h:" in k for _, k, _ in stored)  # HyperLogLogs
    secrets = [ENUMERATOR, *BOTNET, "192.0.2.55", *ACCOUNTS, *SESSIONS, "bot-198.51.100.11",
               *PHONES]
    for _, key, value in stored:
        assert len(key) < 120, key  # a 4 KB cookie must not make a 4 KB key
        for secret in secrets:
            for form in encodings(secret):
                assert form not in key, (secret, form, key)
                assert form not in value, (secret, form, key, value[:200])
