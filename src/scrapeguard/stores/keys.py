"""The key that names live state, and the keyed hash made with it.

Every address, account, session, subject and route the stores hold is a keyed hash of fixed
size under this key, so a copy of Redis (or of a `memory://` process) names nobody, and a
4 KB cookie costs a store key no more than an address does. Nodes sharing a store must share
the key; replacing it makes every hash new, which resets live state (see docs/live.md).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from pathlib import Path

from scrapeguard.errors import ScrapeGuardError

SECRET_ENV = "SCRAPEGUARD_SECRET"
SECRET_FILE_ENV = "SCRAPEGUARD_SECRET_FILE"
"""A file holding the key (hex); made with 32 random bytes, owner-only, if it is missing."""
DIGEST_BYTES = 8
"""64 bits: a collision among a billion keys is about as likely as one in 2^34."""


def load_secret(secret: bytes | None = None, secret_file: str | Path | None = None) -> bytes:
    """The key, from the first of: `secret`, `secret_file`, `SCRAPEGUARD_SECRET`,
    `SCRAPEGUARD_SECRET_FILE`, else random per process (fine for one `memory://` process)."""
    if secret:
        return secret
    if secret_file:
        return read_or_create(Path(secret_file))
    if env := os.environ.get(SECRET_ENV, ""):
        return env.encode()
    if path := os.environ.get(SECRET_FILE_ENV, ""):
        return read_or_create(Path(path))
    return secrets.token_bytes(32)


def read_or_create(path: Path) -> bytes:
    """The key in `path`; a missing file is created owner-only (0600) with a new key, and an
    existing one that others may read is refused rather than trusted."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ScrapeGuardError(
                f"secret file {path} is open to other users (mode {stat.S_IMODE(mode):o}); "
                f"run: chmod 600 {path}") from None
        text = path.read_text().strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = text.encode()
        if len(key) < 16:
            raise ScrapeGuardError(f"secret file {path} holds fewer than 16 bytes") from None
        return key
    except OSError as exc:
        raise ScrapeGuardError(f"cannot create secret file {path}: {exc}") from exc
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "w") as out:
        out.write(key.hex() + "\n")
    return key


class StateHasher:
    """Keyed BLAKE2b (a MAC in its own right, a fifth of HMAC's cost) to 16 hex digits."""

    def __init__(self, secret: bytes) -> None:
        # BLAKE2b's key is at most 64 bytes, so a secret of any length is condensed first.
        self._key = hashlib.blake2b(secret, digest_size=32, person=b"scrapeguard-key").digest()

    def __call__(self, value: str) -> str:
        return hashlib.blake2b(value.encode(), key=self._key,
                               digest_size=DIGEST_BYTES).hexdigest()
