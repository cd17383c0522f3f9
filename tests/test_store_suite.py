"""One store test suite, run on `memory://` and on a real Redis (`REDIS_URL`), with the memory
store as the reference: the same `EventUpdate`s must read back the same state.

The stateful detectors live in the store — sequential steps, `enum:` campaign membership,
`thin:` membership — in Python (`stores/memory.py`) and in Lua (`stores/lua/record.lua`), so
they are checked here at the `Store` interface, below the engine: seeded random sequences of
updates (every shape an update can take) read back event by event, and scenarios whose
answers are written out. Sums, steps, membership and request counts must be equal; distinct
counts exact on memory and within HyperLogLog's error on Redis (exact for the small sets of
the scenarios, see `hll_slack`). Expiry is by event time on memory; on Redis by the clock for
what is keyed by its window (counters, campaign evidence, taints) and by event time for what
outlives windows (a previous id, an actor's exposure): the general expiry test stamps events
with the clock, as live, and one more replays a log from the past.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from conftest import empty_redis
from scrapeguard.stores import EventResult, EventUpdate, GroupUpdate, Store, open_store
from scrapeguard.stores.keys import StateHasher
from scrapeguard.stores.memory import MemoryStore

HASH = StateHasher(b"store-suite")
SUMS = ("one", "is_miss", "item_weight", "is_static")
DISTINCT = ("paths", "subjects", "ips")
WINDOW = 60

Factory = Callable[[], Store]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def new_store(request: pytest.FixtureRequest) -> Iterator[Factory]:
    """Fresh stores of one backend; on Redis each under a prefix of its own."""
    made: list[Store] = []
    if request.param == "redis":
        url = empty_redis()

        def make() -> Store:
            made.append(open_store(f"{url}?prefix=suite-{uuid.uuid4().hex[:8]}:"))
            return made[-1]
    else:
        def make() -> Store:
            made.append(MemoryStore())
            return made[-1]
    yield make
    for store in made:
        store.close()


def estimated(store: Store) -> bool:
    """The store counts distinct values with HyperLogLog (Redis), not exactly."""
    return not isinstance(store, MemoryStore)


def hll_slack(count: float) -> float:
    """How far a HyperLogLog count may be from the exact one: Redis' standard error is 0.81%;
    four of them, and never less than one (a register collision among few values)."""
    return max(1.0, 0.0325 * count)


def seq_ids(update: EventUpdate, n: int) -> None:
    """`StreamEngine._seq_ids`: the looked-up id and its neighbours, as keyed hashes."""
    update.seq_id = HASH(f"#{n}")
    update.seq_near = [HASH(f"#{n + d}") for d in range(-update.seq_step, update.seq_step + 1)
                       if d and n + d >= 0]


def lookup(ts_ms: int, n: int | None, *, client: str = "c1", miss: int = 0,
           tainting: bool | None = False, ttl: int = 3600) -> EventUpdate:
    """A lookup of id `n` by `client` on one route, as the engine builds it: sequential step,
    `enum:` evidence, and (`tainting` not None: a client without an account) `thin:` evidence,
    with a plain group and one of each campaign link."""
    route = HASH(f"{client}/route")
    update = EventUpdate(ts_ms=ts_ms, groups=[], is_miss=miss, seq_ttl=ttl, member_ttl=ttl,
                         thin_ttl=ttl, exposure_ttl=ttl)
    if n is not None:
        update.seq_key = f"s:{route}"
        seq_ids(update, n)
    update.member_key = f"m:{route}"
    if tainting is not None:
        update.taint_key = f"t:{HASH(client)}"
        update.tainting = tainting
        update.thin_key = None if tainting else f"n:{route}"
    item = HASH(f"record:{n}")
    for name, link in (("plain", None), ("enum", "enum"), ("thin", "thin")):
        update.groups.append(GroupUpdate(
            key=f"g:{name}:{client}", ttl=ttl, sums={"one": 1, "is_miss": miss},
            distinct=[("subjects", item, 1)], tracked=("subjects",), campaign=link))
    update.exposure = {f"ip:{client}": [(item, 1)], f"enum:{client}": [(item, 1)]}
    update.exposure_link = {f"enum:{client}": "enum"}
    return update


def random_updates(seed: int, count: int = 150) -> list[EventUpdate]:
    """Every shape an update takes, drawn from small pools so that keys and values repeat."""
    rng = random.Random(seed)
    clients = [f"client-{k}" for k in range(4)]
    values = [HASH(f"value-{k}") for k in range(40)]
    ts = 1_772_438_400_000
    out = []
    for _ in range(count):
        ts += rng.choice((0, 1, 250, 1000, 7000))
        client = rng.choice(clients)
        route = HASH(client + "/" + rng.choice(("/user/{n}", "/api/{n}")))
        update = EventUpdate(ts_ms=ts, groups=[], is_miss=int(rng.random() < 0.3),
                             seq_step=rng.choice((1, 3)), member_min=rng.choice((2, 3)),
                             member_min_misses=rng.choice((3, 8)),
                             member_ratio=rng.choice((0.5, 0.8)), thin_min=rng.choice((2, 3)))
        if rng.random() < 0.8:
            update.seq_key = f"s:{route}"
            seq_ids(update, rng.choice((0, 1, 2, 3, 5, 9, 10, 11, 40, 10**17)))
        if rng.random() < 0.8:
            update.member_key = f"m:{route}:{ts // 3_600_000}"
        if rng.random() < 0.7:
            update.taint_key = f"t:{HASH(client)}"
            update.tainting = rng.random() < 0.2
            update.thin_key = None if update.tainting else f"n:{route}"
        for kind in rng.sample(("ip", "account", "enum", "thin"), rng.randint(0, 4)):
            actor = f"{kind}:{client}"
            sums = {c: rng.choice((0, 1, 1, 2, 20)) for c in rng.sample(SUMS, rng.randint(0, 4))}
            distinct = [(f, rng.choice(values), rng.choice((1, 1, 20)) if f == "subjects" else 1)
                        for f in rng.sample(DISTINCT, rng.randint(0, 3))
                        for _ in range(rng.randint(1, 3))]
            link = kind if kind in ("enum", "thin") else None
            update.groups.append(GroupUpdate(
                key=f"g:{actor}:{WINDOW}:{ts // (WINDOW * 1000)}", ttl=2 * WINDOW, sums=sums,
                distinct=distinct, gap_ts=ts if rng.random() < 0.7 else None,
                tracked=DISTINCT, campaign=link))
            items = [(rng.choice(values), rng.choice((1, 20))) for _ in range(rng.randint(0, 3))]
            update.exposure[actor] = items
            if link:
                update.exposure_link[actor] = link
        out.append(update)
    return out


def weights_are_fixed(updates: list[EventUpdate]) -> list[EventUpdate]:
    """Each distinct value always with one weight, as the engine sends it (an item's weight is
    its route's): the random pools above would otherwise give one value two weights."""
    fixed: dict[str, int] = {}
    for update in updates:
        for group in update.groups:
            group.distinct = [(f, v, fixed.setdefault(v, w)) for f, v, w in group.distinct]
        update.exposure = {a: [(v, fixed.setdefault(v, w)) for v, w in items]
                           for a, items in update.exposure.items()}
    return updates


def differences(reference: EventResult, other: EventResult, update: EventUpdate,
                estimating: bool) -> list[str]:
    """Where `other` reads differently from the reference, allowing HyperLogLog's error on
    distinct counts (and the float rounding of gap sums) when `estimating`."""
    found = []
    for name in ("is_seq_step", "member", "thin"):
        if getattr(reference, name) != getattr(other, name):
            found.append(f"{name}: {getattr(reference, name)} != {getattr(other, name)}")
    if set(reference.groups) != set(other.groups):
        found.append(f"groups: {sorted(reference.groups)} != {sorted(other.groups)}")
    tracked = {g.key: set(g.tracked) for g in update.groups}
    for key in set(reference.groups) & set(other.groups):
        ours, theirs = reference.groups[key], other.groups[key]
        for name in set(ours) | set(theirs):
            a, b = ours.get(name, 0), theirs.get(name, 0)
            if name.startswith("_gap_s"):
                ok = math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
            elif name in tracked[key] and estimating:
                ok = abs(a - b) <= hll_slack(a) * max(1, _largest_weight(update))
            else:
                ok = a == b
            if not ok:
                found.append(f"{key} {name}: {a} != {b}")
    for name, ours_x, theirs_x in (("exposure_before", reference.exposure_before,
                                    other.exposure_before),
                                   ("requests", reference.requests, other.requests)):
        if set(ours_x) != set(theirs_x):
            found.append(f"{name} actors: {sorted(ours_x)} != {sorted(theirs_x)}")
        for actor in set(ours_x) & set(theirs_x):
            a, b = ours_x[actor], theirs_x[actor]
            slack = hll_slack(a) * 20 if estimating and name == "exposure_before" else 0
            if abs(a - b) > slack:
                found.append(f"{name} {actor}: {a} != {b}")
    return found


def _largest_weight(update: EventUpdate) -> int:
    return max((w for g in update.groups for _, _, w in g.distinct), default=1)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequences_read_back_as_on_the_reference(new_store: Factory, seed: int) -> None:
    """Event by event, and the second half through `record_many` (Redis: one pipeline)."""
    updates = weights_are_fixed(random_updates(seed))
    reference, store = MemoryStore(), new_store()
    half = len(updates) // 2
    results = [store.record(u) for u in updates[:half]] + store.record_many(updates[half:])
    found = []
    for n, (update, result) in enumerate(zip(updates, results, strict=True)):
        expected = reference.record(update)
        found += [f"event {n}: {d}" for d in differences(expected, result, update,
                                                           estimated(store))]
    assert not found, "\n".join(found[:20])
    steps = sum(r.is_seq_step for r in results)
    members = sum(r.member for r in results) + sum(r.thin for r in results)
    assert steps, "the sequence must exercise the step detector"
    assert members, "the sequence must exercise the membership detectors"


def test_the_reference_counts_what_each_update_says(new_store: Factory) -> None:
    """Sums add up, a distinct value counts its weight the first time only, per group; an
    actor's exposure before an event is the weight of the distinct records before it."""
    store = new_store()
    sums: dict[str, dict[str, int]] = {}
    seen: dict[str, dict[str, set[str]]] = {}
    weighted: dict[str, dict[str, int]] = {}
    exposure: dict[str, dict[str, int]] = {}
    for update in weights_are_fixed(random_updates(4)):
        for group in update.groups:  # no campaign links: every group applies
            group.campaign = None
        update.exposure_link = {}
        result = store.record(update)
        for actor, items in update.exposure.items():
            records = exposure.setdefault(actor, {})
            before = sum(records.values())
            got = result.exposure_before[actor]
            assert abs(got - before) <= (hll_slack(before) * 20 if estimated(store) else 0)
            records.update((v, w) for v, w in items if v not in records)
        for group in update.groups:
            total = sums.setdefault(group.key, {})
            for column, amount in group.sums.items():
                total[column] = total.get(column, 0) + amount
            values = seen.setdefault(group.key, {})
            counts = weighted.setdefault(group.key, {})
            for feature, value, weight in group.distinct:
                if value not in values.setdefault(feature, set()):
                    values[feature].add(value)
                    counts[feature] = counts.get(feature, 0) + weight
            read = result.groups[group.key]
            assert {c: v for c, v in total.items() if v} == \
                {c: read[c] for c in total if read.get(c)}
            for feature in DISTINCT:
                exact = counts.get(feature, 0)
                slack = hll_slack(exact) * 20 if estimated(store) else 0
                assert abs(read.get(feature, 0) - exact) <= slack, (group.key, feature)


def test_daily_buckets_read_back_per_day_and_whole(new_store: Factory) -> None:
    """A `Beyond` feature (`asked_beyond_day`) is counted as the engine sends it: each value
    under the feature's name and under `name@day`, every day of the window so far tracked.
    The window's people and each day's read back apart; the engine reads the feature as the
    first less the largest of the second. An address book again: 0; new people: counted."""
    store, name, ttl = new_store(), "asked_beyond_day", 14 * 86400
    day0 = 1_772_409_600_000 // 86_400_000  # 2026-03-02
    book = [HASH(f"contact-{k}") for k in range(30)]
    days = {0: book, 1: book[:20], 2: [HASH(f"stranger-{k}") for k in range(12)]}
    read: dict[str, float] = {}
    for offset, values in days.items():
        day = day0 + offset
        for k, value in enumerate(values):
            tracked = (name, *(f"{name}@{d}" for d in range(day0, day + 1)))
            update = EventUpdate(ts_ms=day * 86_400_000 + 3_600_000 + k, groups=[GroupUpdate(
                key="g:account:pool:1209600:0", ttl=2 * ttl, sums={"one": 1},
                distinct=[(name, value, 1), (f"{name}@{day}", value, 1)], tracked=tracked)])
            read = store.record(update).groups["g:account:pool:1209600:0"]
    slack = 1 if estimated(store) else 0
    whole = read[name]
    per_day = [read.get(f"{name}@{day0 + d}", 0) for d in days]
    assert abs(whole - 42) <= slack
    assert read["one"] == 62
    assert all(abs(got - len(v)) <= slack for got, v in zip(per_day, days.values(), strict=True))
    assert abs((whole - max(per_day)) - 12) <= 2 * slack, "only the strangers are beyond"


def test_sequential_steps(new_store: Factory) -> None:
    """A lookup is a step when the client's previous id on the route is within `seq_step`
    of it (either way), never when it is the same id; clients and routes apart."""
    store = new_store()
    ts = int(time.time() * 1000)
    ids = [10, 11, 13, 20, 17, 17, 18, 0, 1, None, 2]
    steps = [store.record(lookup(ts + k, n)).is_seq_step for k, n in enumerate(ids)]
    assert steps == [0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1]
    assert store.record(lookup(ts + 20, 3, client="c2")).is_seq_step == 0


def test_campaign_membership(new_store: Factory) -> None:
    """`enum:` evidence: at least `member_min` steps making at least `member_ratio` of the
    client's lookups; or as many misses. Campaign groups and exposure count members only."""
    store = new_store()
    ts = int(time.time() * 1000)
    members = []
    for k, n in enumerate((100, 101, 102, 103, 500, 900)):
        result = store.record(lookup(ts + k, n, tainting=None))
        members.append(result.member)
        if not result.member:
            assert "g:enum:c1" not in result.groups
            assert "enum:c1" not in result.exposure_before
    # steps of lookups: 0/1, 1/2, 2/3, 3/4 (3 < 0.8 x 4), then no more steps
    assert members == [False] * 6
    store = new_store()
    members = [store.record(lookup(ts + k, n, tainting=None)).member
               for k, n in enumerate((100, 101, 102, 103, 104))]
    assert members == [False, False, False, False, True]  # 4 steps of 5 lookups
    result = store.record(lookup(ts + 9, 105, tainting=None))
    assert result.groups["g:enum:c1"]["one"] == 2  # counted from the first member event on
    assert result.exposure_before["enum:c1"] == 1
    misses = [store.record(lookup(ts + k, None, client="m", miss=1, tainting=None)).member
              for k in range(10)]
    assert misses == [False] * 7 + [True] * 3


def test_thin_membership(new_store: Factory) -> None:
    """`thin:`: a client without an account whose day is only direct lookups on the route,
    from its `thin_min`-th on; anything else that day taints it for good."""
    store = new_store()
    ts = int(time.time() * 1000)
    thin = [store.record(lookup(ts + k, 10 * k)).thin for k in range(4)]
    assert thin == [False, False, True, True]
    assert store.record(lookup(ts + 5, None, tainting=True)).thin is False
    assert store.record(lookup(ts + 6, 70)).thin is False
    other = [store.record(lookup(ts + 10 + k, 10 * k, client="c3")).thin for k in range(3)]
    assert other == [False, False, True]
    account = store.record(lookup(ts + 20, 5, client="c4", tainting=None))
    assert account.thin is False
    assert "g:thin:c4" not in account.groups


def test_state_expires_with_its_time_to_live(new_store: Factory) -> None:
    """Steps, campaign evidence, taint, counters and exposure all lapse after their time to
    live: stamped with the clock, as live, memory (event time) and Redis (the clock) agree."""
    store = new_store()
    now = int(time.time() * 1000)
    for k, n in enumerate((10, 11, 12)):
        last = store.record(lookup(now + k, n, ttl=1))
    assert last.is_seq_step == 1
    assert last.thin is True
    assert last.groups["g:plain:c1"]["one"] == 3
    assert last.exposure_before["ip:c1"] == 2
    tainted = store.record(lookup(now + 5, None, client="c5", tainting=True, ttl=1))
    assert tainted.thin is False
    time.sleep(1.3)
    now = int(time.time() * 1000)
    after = store.record(lookup(now, 13, ttl=1))
    assert after.is_seq_step == 0, "the previous id has expired"
    assert after.thin is False, "the day's lookups have expired"
    assert after.groups["g:plain:c1"]["one"] == 1
    assert after.exposure_before["ip:c1"] == 0
    thin = [store.record(lookup(now + 1 + k, 50 * k, client="c5", ttl=1)).thin
            for k in range(3)]
    assert thin == [False, False, True], "the taint has expired"


def test_a_counter_lives_from_its_first_write(new_store: Factory) -> None:
    """A group's counters expire their time to live after they were started, however often
    they are written since: a window's counters never outlive the window's keys they are
    under. An actor's exposure is its totals so far: it lives its time to live after the
    actor's last request."""
    store = new_store()
    start = int(time.time() * 1000)
    store.record(lookup(start, 1, ttl=2))
    time.sleep(1.2)
    store.record(lookup(int(time.time() * 1000), 2, ttl=2))
    time.sleep(1.0)
    result = store.record(lookup(int(time.time() * 1000), 3, ttl=2))
    assert result.groups["g:plain:c1"]["one"] == 1, "the counters restarted after 2 s"
    assert result.exposure_before["ip:c1"] == 2, "the exposure was renewed at 1.2 s"
    time.sleep(2.2)
    result = store.record(lookup(int(time.time() * 1000), 4, ttl=2))
    assert result.exposure_before["ip:c1"] == 0, "2 s after the last request it lapsed"


def test_a_previous_id_and_exposure_lapse_by_event_time(new_store: Factory) -> None:
    """A log replayed or followed behind the clock counts as it did live: a previous id and an
    actor's exposure lapse when the events' time says, not the clock (which only clears keys
    away). Counters, campaign evidence and taints are keyed by their window, bucket or day,
    which ends before their time to live: they never outlive their key's use."""
    store = new_store()
    start = 1_772_438_400_000  # long before the clock: a replayed log
    assert store.record(lookup(start, 10, ttl=60)).is_seq_step == 0
    near = store.record(lookup(start + 60_000, 11, ttl=60))
    assert near.is_seq_step == 1
    assert near.exposure_before["ip:c1"] == 1
    late = store.record(lookup(start + 180_001, 12, ttl=60))
    assert late.is_seq_step == 0, "the previous id lapsed a minute after it was looked up"
    assert late.exposure_before["ip:c1"] == 0, "the exposure lapsed a minute after it began"
    assert store.record(lookup(start + 180_002, 13, ttl=60)).exposure_before["ip:c1"] == 1
