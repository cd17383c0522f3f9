"""`scrapeguard watch`: a log followed through a rename and a copytruncate rotation, killed
with SIGKILL mid-file and restarted, reaches the decisions `analyze` reaches over the whole
file — the same actors, actions, rules and first-action times — in the store.

The Redis test drives the real command in a child process; the memory:// tests drive the
follower in process, to show the rotation and state handling one piece at a time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from logbuilder import Log
from scrapeguard.analysis import analyze
from scrapeguard.decisions import Decision, format_ts
from scrapeguard.engines.calibration import save_calibration
from scrapeguard.engines.stream import StreamEngine
from scrapeguard.errors import SourceError
from scrapeguard.stores import open_store
from scrapeguard.watch import state
from scrapeguard.watch.run import Watcher, mark_key
from test_rule_samples import SAMPLES

DATA = Path(__file__).parent / "data"
POLICY = str(DATA / "sample_policy.yaml")
SECRET = "00112233445566778899aabbccddeeff"
CLI = "import sys; from scrapeguard.cli import app; sys.argv[0] = 'scrapeguard'; app()"

View = dict[str, tuple[str, str, tuple[str, ...]]]
QUICK_SAMPLES = (
    "sequential-enumeration", "sequential-enumeration-account", "lookup-misses",
    "lookup-misses-network", "exposure-velocity", "account-rotating-networks", "profile-walk",
    "profile-reading-speed", "machine-timing", "trap-hit", "attack-payload",
    "login-bruteforce", "author-enumeration", "automation-tool", "catalogue-harvest",
    "fast-crawl", "probing",
)
"""The rule samples of at most a few hundred lines: the live engine counts each event one by
one, so the longest samples would make this test minutes long without showing more."""


def _traffic(tmp: Path) -> list[bytes]:
    """Most rules' samples and a few people, as time-ordered combined lines."""
    log = Log()
    for n in range(3):
        log.person(ip=f"198.51.100.{30 + n}", at=n * 300.0, seed=n)
    for rule in QUICK_SAMPLES:
        SAMPLES[rule](log)
    whole = log.write(tmp / "whole.log")
    return whole.read_bytes().splitlines(keepends=True)


def _view(decisions: list[Decision]) -> View:
    return {d.actor: (d.action, format_ts(d.first_action_ts), tuple(sorted(d.rules)))
            for d in decisions if d.action != "allow"}


def _expected(tmp: Path) -> tuple[View, Path]:
    """`analyze` over the whole file, and its calibration for the live engine."""
    batch = analyze([str(tmp / "whole.log")], policy=POLICY)
    calibration = tmp / "calibration.json"
    save_calibration(batch.calibration, calibration)
    return _view(batch.decisions), calibration


def _stored(store_uri: str, expected: View, secret: bytes) -> View:
    """The store's decisions, named by matching the keyed hashes of the expected actors."""
    namer = StreamEngine(POLICY, "memory://", secret=secret)
    names = {namer._ref(*actor.split(":", 1)): actor for actor in expected}
    store = open_store(store_uri)
    found = {}
    for key, record in store.all_decisions().items():
        if key.startswith(("member:", "since:")):
            continue
        name = names.get(record["actor"], record["actor"])
        found[name] = Decision.from_json({**record, "actor": name})
    store.close()
    return _view(list(found.values()))


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `scrapeguard` children; any still running when the test ends is killed, so a
    failed test leaves no watcher counting into the next test's store."""
    children: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        child = subprocess.Popen([sys.executable, "-c", CLI, *args], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.communicate()


def _wait_mark(store_uri: str, log: Path, at_least: int, proc: subprocess.Popen[bytes]) -> int:
    store = open_store(store_uri)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            saved = state.load(log.with_name("access.log.scrapeguard-watch"))
            marked = store.get_mark(mark_key(log, saved.run)) if saved else None
            mark = max(marked or 0, saved.seq if saved else 0)
            if mark >= at_least:
                return mark
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.002)
        raise AssertionError(f"the store's mark did not reach {at_least}")
    finally:
        store.close()


@pytest.mark.redis
def test_watch_killed_across_rotations_matches_analyze(
        tmp_path: Path, redis_url: str, spawn: Callable[..., subprocess.Popen[bytes]]) -> None:
    lines = _traffic(tmp_path)
    expected, calibration = _expected(tmp_path)
    assert len(expected) >= 5
    n = len(lines)
    parts = [lines[: n // 4], lines[n // 4: n // 2], lines[n // 2: 3 * n // 4], lines[3 * n // 4:]]
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(parts[0]))
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    args = ["watch", str(log), "--store", redis_url, "--policy", POLICY, "--calibration",
            str(calibration), "--secret-file", str(secret), "-q",
            "--decisions", str(tmp_path / "journal.jsonl")]

    # 1. Killed mid-file: SIGKILL after part of the first quarter is in the store.
    first = spawn(*args)
    _wait_mark(redis_url, log, len(parts[0]) // 2, first)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    saved = state.load(log.with_name("access.log.scrapeguard-watch"))
    assert saved is not None
    assert saved.offset < log.stat().st_size

    # 2. Rotated by rename while down, the rest of the old file written first.
    with log.open("ab") as out:
        out.write(b"".join(parts[1][:10]))
    log.rename(tmp_path / "access.log.1")
    log.write_bytes(b"".join(parts[1][10:]))
    second = spawn(*args, "--grace", "0.2")
    done = len(parts[0]) + len(parts[1])
    _wait_mark(redis_url, log, done, second)

    # 3. copytruncate while running, then killed after more lines, restarted.
    with log.open("ab") as out:
        out.write(b"".join(parts[2]))
    _wait_mark(redis_url, log, done + len(parts[2]) // 2, second)
    second.send_signal(signal.SIGKILL)
    second.communicate()
    (tmp_path / "access.log.2").write_bytes(log.read_bytes())  # logrotate's copy ...
    with log.open("r+b") as out:  # ... then the truncation in place
        out.truncate(0)
        out.write(b"".join(parts[3]))
    third = spawn(*args, "--once")
    out, errors = third.communicate(timeout=120)
    assert third.returncode == 0, errors.decode()
    assert b"already counted before a restart" in errors

    assert _stored(redis_url, expected, bytes.fromhex(SECRET)) == expected
    # The journal names what the store keeps only by hash, each with its expiry, for exports.
    journal = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    assert {r["actor"] for r in journal} <= set(expected)
    assert all(r["expires_ts"] > r["first_action_ts"] for r in journal)


def _watch_once(log: Path, engine: StreamEngine, state_path: Path) -> None:
    watcher = Watcher(log, engine, state_path, grace=0.0)
    try:
        watcher.run(threading.Event(), once=True)
    finally:
        watcher.close()


def test_follower_rename_and_copytruncate_in_process(tmp_path: Path) -> None:
    """memory:// in one process: each rotation between two reads, nothing lost or doubled."""
    lines = _traffic(tmp_path)
    expected, calibration = _expected(tmp_path)
    engine = StreamEngine(POLICY, "memory://", calibration=calibration, secret=b"test")
    log, state_path = tmp_path / "access.log", tmp_path / "state.json"
    third = len(lines) // 3
    log.write_bytes(b"".join(lines[:third]))
    _watch_once(log, engine, state_path)
    log.rename(tmp_path / "access.log.1")  # rename, with lines still unread in the old file
    with (tmp_path / "access.log.1").open("ab") as out:
        out.write(b"".join(lines[third: third + 5]))
    log.write_bytes(b"".join(lines[third + 5: 2 * third]))
    _watch_once(log, engine, state_path)
    late = b"".join(lines[2 * third: 2 * third + 7])  # written just before the copy
    (tmp_path / "access.log.2").write_bytes(log.read_bytes() + late)
    log.write_bytes(b"".join(lines[2 * third + 7:]))  # emptied in place: same inode
    _watch_once(log, engine, state_path)
    assert _view(engine.decisions()) == expected
    saved = state.load(state_path)
    assert saved is not None
    assert engine.store.get_mark(mark_key(log, saved.run)) is not None


def test_malformed_lines_located_in_the_followed_file(tmp_path: Path) -> None:
    lines = _traffic(tmp_path)[:40]
    lines[25] = b"\x1b[31mnot a request line at all\n"
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(lines[:20]))
    problems: list[str] = []
    engine = StreamEngine(POLICY, "memory://", secret=b"test")
    malformed = 0
    for upto in (20, 40):  # the bad line arrives in the second read, as line 26 of the file
        log.write_bytes(b"".join(lines[:upto]))
        watcher = Watcher(log, engine, tmp_path / "s.json", grace=0.0,
                          on_problem=lambda s: problems.append(s.where()))
        malformed += watcher.run(threading.Event(), once=True).malformed
        watcher.close()
    assert problems == [f"{log}:26"]
    assert malformed == 1


def test_damaged_state_file_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(SourceError, match=r"state\.json: not a watch state file"):
        state.load(path)


def test_state_saved_atomically(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    position = state.Position(1, 2, "ab", 2, 10, 10, 3, 4, "combined", "0f1e")
    state.save(path, position)
    assert state.load(path) == position
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    assert json.loads(path.read_text())["offset"] == 10


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_rotations_while_following(tmp_path: Path) -> None:
    """The watcher running all along: lines appended, renamed away (with more lines written
    to the old file before the server reopens its log), copied and truncated in place."""
    lines = _traffic(tmp_path)
    expected, calibration = _expected(tmp_path)
    engine = StreamEngine(POLICY, "memory://", calibration=calibration, secret=b"test")
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    watcher = Watcher(log, engine, tmp_path / "state.json", grace=0.3, poll=0.01)
    stop = threading.Event()
    runner = threading.Thread(target=watcher.run, args=(stop,))
    runner.start()
    n = len(lines)
    cuts = [0, n // 4, n // 4 + 5, n // 2, 3 * n // 4, n]

    def counted() -> int:
        return watcher.follower.position.seq

    def append(target: Path, a: int, b: int) -> None:
        with target.open("ab") as out:
            out.write(b"".join(lines[cuts[a]:cuts[b]]))

    try:
        append(log, 0, 1)
        _until(lambda: counted() >= cuts[1] - 3, "first quarter not counted")
        log.rename(tmp_path / "access.log.1")
        append(tmp_path / "access.log.1", 1, 2)  # the server still writes to the old file
        log.write_bytes(b"")
        append(log, 2, 3)
        _until(lambda: counted() >= cuts[3] - 3, "lines around the rename not counted")
        append(log, 3, 4)
        _until(lambda: counted() >= cuts[4] - 3, "third quarter not counted")
        (tmp_path / "access.log.2").write_bytes(log.read_bytes())  # copytruncate's copy
        with log.open("r+b") as out:
            out.truncate(0)
        append(log, 4, 5)
        _until(lambda: counted() >= cuts[5] - 3, "lines after copytruncate not counted")
        time.sleep(0.2)
    finally:
        stop.set()
        runner.join(timeout=60)
        watcher.close()
    assert _view(engine.decisions()) == expected


def test_sigterm_stops_cleanly_and_saves(tmp_path: Path,
                                         spawn: Callable[..., subprocess.Popen[bytes]]) -> None:
    lines = _traffic(tmp_path)[:50]
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(lines))
    child = spawn("watch", str(log), "--policy", POLICY)
    state_path = log.with_name("access.log.scrapeguard-watch")
    _until(lambda: (state.load(state_path) or state.Position(0, 0, "", 0, 0, 0, 0, 0)).offset
           == log.stat().st_size, "the log was not read")
    child.send_signal(signal.SIGTERM)
    _, errors = child.communicate(timeout=60)
    assert child.returncode == 0, errors.decode()
    assert b"50 lines, 50 events counted" in errors


def test_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scrapeguard.cli import app

    result = CliRunner().invoke(app, ["watch", str(tmp_path), "--once", "-q",
                                      "--state", str(tmp_path / "s.json")])
    assert result.exit_code == 2
    assert "not a regular file" in result.output
