"""Minting: synthetic people derived from the secret, written to the canary db.

Canary i is drawn from a generator seeded with HMAC(key, "canary", i): its phone number from
the operator's ranges, its id from the site's id space, its name and review text by Faker in
the site's locale. Knowing any number of canaries reveals nothing about the rest (each is an
independent keyed draw), and the same key and settings mint the same book again.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapeguard.canary.keys import CanaryError, derive, key_check, key_from_env, new_key
from scrapeguard.canary.model import Canary
from scrapeguard.canary.ranges import IdSpace, PhoneRange
from scrapeguard.canary.servings import SERVINGS_SCHEMA, connect

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE canaries (
    idx INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, phone TEXT NOT NULL,
    phone_cc TEXT NOT NULL, phone_nsn TEXT NOT NULL, comment TEXT NOT NULL
);
CREATE UNIQUE INDEX canaries_phone ON canaries (phone_cc, phone_nsn) WHERE phone_nsn != '';
"""
HEADROOM = 2
"""Each range must hold this many times the canaries: fewer makes collisions, and a range
that is mostly canaries is one a harvester could learn to skip."""
MAX_TRIES = 1000


@dataclass(frozen=True)
class MintSpec:
    """What to mint; see `scrapeguard canary mint --help` for each setting."""

    count: int
    locale: str
    ids: IdSpace
    phone_ranges: tuple[PhoneRange, ...] = ()
    per_actor: int = 500
    """The window an actor draws from at a time (see `assign`); its set grows past it."""
    sentences: int = 2

    def check(self) -> None:
        if self.count < 1:
            raise CanaryError("--count must be at least 1")
        capacity = sum(r.size for r in self.phone_ranges)
        if self.phone_ranges and capacity < HEADROOM * self.count:
            raise CanaryError(f"the phone ranges hold {capacity} numbers; {self.count} canaries "
                              f"need at least {HEADROOM * self.count}: add or widen ranges")
        if self.ids.size < HEADROOM * self.count:
            raise CanaryError(f"the id range holds {self.ids.size} ids; {self.count} canaries "
                              f"need at least {HEADROOM * self.count}")
        if self.per_actor < 1:
            raise CanaryError(f"--per-actor must be at least 1, not {self.per_actor}")
        if self.sentences < 1:
            raise CanaryError("--sentences must be at least 1")


def derive_canaries(key: bytes, spec: MintSpec) -> Iterator[Canary]:
    """The book's canaries in index order; unique ids and phones (collisions redrawn)."""
    fake = faker_for(spec.locale)
    phones_seen: set[tuple[str, int]] = set()
    ids_seen: set[str] = set()
    for index in range(spec.count):
        seed = derive(key, "canary", index)
        rng = random.Random(seed)
        fake.seed_instance(int.from_bytes(seed[8:16], "big"))
        name = fake.name()
        comment = fake.paragraph(nb_sentences=spec.sentences, variable_nb_sentences=False)
        cc, nsn, phone = "", "", ""
        if spec.phone_ranges:
            phone_range, number = _draw_phone(rng, spec.phone_ranges, phones_seen)
            cc, nsn = phone_range.cc, f"{number:0{phone_range.width}d}"
            phone = phone_range.format(number)
        yield Canary(index=index, id=_draw_id(rng, spec.ids, ids_seen), name=name, phone=phone,
                     phone_cc=cc, phone_nsn=nsn, comment=comment)


def _draw_phone(rng: random.Random, ranges: tuple[PhoneRange, ...],
                seen: set[tuple[str, int]]) -> tuple[PhoneRange, int]:
    total = sum(r.size for r in ranges)
    for _ in range(MAX_TRIES):
        offset = rng.randrange(total)
        for phone_range in ranges:
            if offset < phone_range.size:
                break
            offset -= phone_range.size
        number = phone_range.low + offset
        if (phone_range.cc, number) not in seen:
            seen.add((phone_range.cc, number))
            return phone_range, number
    raise CanaryError("the phone ranges are exhausted")  # pragma: no cover - HEADROOM


def _draw_id(rng: random.Random, ids: IdSpace, seen: set[str]) -> str:
    for _ in range(MAX_TRIES):
        value = ids.render(rng.randint(ids.low, ids.high))
        if value not in seen:
            seen.add(value)
            return value
    raise CanaryError("the id range is exhausted")  # pragma: no cover - HEADROOM


def faker_for(locale: str) -> Any:
    try:
        from faker import Faker
    except ImportError:
        raise CanaryError("minting canaries needs Faker: pip install 'scrapeguard[canary]'"
                          ) from None
    try:
        return Faker(locale)
    except AttributeError:
        raise CanaryError(f"Faker has no locale {locale!r} (e.g. zh_CN, en_US, de_DE)") from None


def create_private(path: Path, force: bool) -> None:
    """Create an empty file only its owner can read: the db holds the key."""
    if path.exists() or path.is_symlink():
        if not force:
            raise CanaryError(f"{path} exists; pass --force to replace it (its servings, the "
                              "evidence `trace` needs, are lost)")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)


def mint(path: Path, spec: MintSpec, *, key: bytes | None = None, force: bool = False) -> int:
    """Write a new canary db; returns how many canaries it holds.

    The key is `key`, else `SCRAPEGUARD_CANARY_KEY`, else a new random one stored in the db
    (owner-only permissions). A supplied key is not stored: the db keeps a check value only.
    """
    spec.check()
    supplied = key or key_from_env()
    secret = supplied or new_key()
    create_private(path, force)
    meta: dict[str, Any] = {
        "schema": 1, "locale": spec.locale, "count": spec.count, "per_actor": spec.per_actor,
        "key_check": key_check(secret),
        "id_range": f"{spec.ids.low}-{spec.ids.high}", "id_format": spec.ids.format,
        "phone_ranges": [f"{r.format(r.low)} - {r.format(r.high)}" for r in spec.phone_ranges],
        "minted_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if supplied is None:
        meta["key"] = secret.hex()
    conn = connect(path)
    try:
        conn.executescript(SCHEMA + SERVINGS_SCHEMA)
        with conn:
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO meta VALUES (?, ?)",
                             [(k, json.dumps(v)) for k, v in meta.items()])
            conn.executemany(
                "INSERT INTO canaries VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((c.index, c.id, c.name, c.phone, c.phone_cc, c.phone_nsn, c.comment)
                 for c in derive_canaries(secret, spec)))
    except sqlite3.Error as exc:
        raise CanaryError(f"{path}: {exc}") from exc
    finally:
        conn.close()
    return spec.count
