"""The key live state is hashed with: made owner-only on disk, refused when others can read
it, and the same key gives the same hashes on every node."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from scrapeguard.engines.stream import StreamEngine
from scrapeguard.errors import ScrapeGuardError
from scrapeguard.stores.keys import SECRET_ENV, SECRET_FILE_ENV, StateHasher, load_secret


def test_a_missing_key_file_is_made_owner_only(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    path = tmp_path / "state.key"
    monkeypatch.setenv(SECRET_FILE_ENV, str(path))
    key = load_secret()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 32
    assert load_secret() == key  # read back, not made again
    assert StreamEngine(None, "memory://", secret_file=path).secret == key


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.key"
    path.write_text("ab" * 32)
    path.chmod(0o644)
    with pytest.raises(ScrapeGuardError, match="chmod 600"):
        load_secret(secret_file=path)


def test_hashes_are_keyed_and_of_fixed_size() -> None:
    one, other = StateHasher(b"k" * 32), StateHasher(b"j" * 32)
    cookie = "Z" * 4000
    assert len(one(cookie)) == len(one("192.0.2.1")) == 16
    assert one(cookie) == StateHasher(b"k" * 32)(cookie)
    assert one(cookie) != other(cookie)
