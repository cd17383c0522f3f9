"""Mutation fuzzing of every registered log format and of the policy loader.

Each round writes one file of mutated lines (plain, gzip, or gzip cut short or damaged) and
loads it with the next registered format forced, or, every len(REGISTRY) + 1 rounds, with
detection; so each format's SQL sees every kind of mutation. A mutated line or policy text
is one *input*. Checked: nothing raises but `SourceError`/`PolicyError`; every load accounts
for each line (events + malformed = lines); no load takes longer than `MAX_SECONDS`; and the
worker's peak memory stays under 200 MB plus ten times the largest input (`check_memory`).

Seeds are lines of the built-in formats plus lines of other common shapes; a format may add
its own as a class attribute `examples` (a tuple of lines), and new formats are fuzzed as
soon as they register. Deterministic for a seed (gzip members carry no time stamp), so a
failure is reproduced by its seed, and `--keep N` saves the file of load N (`peak_load` in
the figures names the load that last raised the peak) without loading anything:

    python tests/fuzzing.py --inputs 1000000 --seed 1
    python tests/fuzzing.py --inputs 1000000 --seed 1 --keep 57
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from scrapeguard.errors import PolicyError, SourceError
from scrapeguard.policy.load import check_policy, default_pack, load_policy
from scrapeguard.sources import REGISTRY, load_events

MAX_SECONDS = 120.0
"""A load slower than this counts as a hang (a 53 MB file took 67 s on two crowded cores)."""
BASE_MB = 200

SEEDS = [
    '203.0.113.7 - u_1 [17/May/2015:10:05:03 +0200] "GET /user/42?x=1 HTTP/1.1" 200 512 '
    '"https://example.com/" "Mozilla/5.0 (X11)"',
    '198.51.100.2 - - [01/Jan/2024:00:00:00 -0700] "POST /api/v1/people HTTP/2.0" 201 - "-" '
    '"python-requests/2.31" "10.0.0.1, 192.0.2.9"',
    '2001:db8::1 - - [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.0" 200 2326',
    '192.0.2.4 - frank [10/Oct/2000:13:55:36 -0700] "\\x16\\x03\\x01" 400 0 "-" "-"',
    json.dumps({"ts": "2024-10-10T10:00:00Z", "ip": "192.0.2.1", "method": "GET",
                "path": "/user/7", "status": 200, "bytes": 12, "ua": "curl/8",
                "account": "a1", "subjects": ["p1", "p2"], "fields": ["email"]}),
    json.dumps({"ts": 1728554400123, "ip": "2001:db8::2", "path": "/x", "subjects": None}),
    '2024/10/10 10:00:00 [error] 1234#0: *5 open() "/x" failed, client: 192.0.2.1',
    "<134>Oct 10 10:00:00 host nginx: 192.0.2.1 GET /a 200",
    "2024-10-10 10:00:00 192.0.2.1 GET /default.htm - 80 - 203.0.113.7 Mozilla/5.0 200 0 0 15",
    'time=2024-10-10T10:00:00Z ip=192.0.2.1 method=GET path=/a status=200 ua="curl/8"',
    "ts,ip,method,path,status\n2024-10-10T10:00:00Z,192.0.2.1,GET,/a,200",
]

POLICY_SEEDS = [
    "extends: default\nrules:\n  - id: bulk\n    enabled: false\n",
    "extends: default\nsettings:\n  window: 1h\n",
]


def _mutators(r: random.Random) -> list[Callable[[bytes], bytes]]:
    def at(b: bytes) -> int:
        return r.randrange(len(b) + 1)

    def insert(piece: bytes) -> Callable[[bytes], bytes]:
        return lambda b: (lambda i: b[:i] + piece + b[i:])(at(b))

    def run(unit: bytes, most: int) -> Callable[[bytes], bytes]:
        return lambda b: insert(unit * r.randrange(1, most))(b)

    def flip(b: bytes) -> bytes:
        if not b:
            return b
        i = r.randrange(len(b))
        return b[:i] + bytes([b[i] ^ (1 << r.randrange(8))]) + b[i + 1 :]

    def cut(b: bytes) -> bytes:
        return b[: at(b)]

    def delete(b: bytes) -> bytes:
        i = at(b)
        return b[:i] + b[i + r.randrange(1, 20) :]

    def digits(b: bytes) -> bytes:
        out = bytearray(b)
        for i, c in enumerate(out):
            if 48 <= c <= 57 and r.random() < 0.3:
                out[i] = r.choice(b"0123456789-+")
        return bytes(out)

    def splice(b: bytes) -> bytes:
        other = r.choice(SEEDS).encode()
        return b[: at(b)] + other[r.randrange(len(other) + 1) :]

    def huge(b: bytes) -> bytes:
        return insert(r.choice([b"x", b"\\\"", b"[", b"%"]) * r.randrange(10_000, 700_000))(b)

    return [
        run(b'\\"', 5000), run(b'"', 3000), run(b"[", 500), run(b"]", 500),
        run(b"{", 300), run(b"\\", 2000), run(b" ", 2000),
        insert(b"\x00"), insert(b"\r"), insert(b"\xff"), insert(b"\xc3"), insert(b"\xed\xa0\x80"),
        insert("\U0010ffff".encode()), insert(b"\xef\xbb\xbf"), insert(b"\t"),
        insert(b'"-99999999999999999999"'), insert(b"+99:00"), insert(b"-5"),
        insert(b"\n"), insert(b"\r\n"), insert(b"\x1b[31m"),
        lambda b: insert(r.randbytes(r.randrange(1, 64)))(b),
        flip, cut, delete, digits, splice, huge,
    ]


def mutate(r: random.Random, line: bytes, mutators: list[Callable[[bytes], bytes]]) -> bytes:
    """Zero to four mutations."""
    for _ in range(r.choice([0, 1, 1, 2, 2, 3, 4])):
        line = r.choice(mutators)(line)
    return line


def _seeds() -> list[str]:
    extra = [x for fmt in REGISTRY.values() for x in getattr(fmt, "examples", ())]
    return SEEDS + [str(x) for x in extra]


def make_file(r: random.Random, path: Path, lines: int) -> tuple[Path, int]:
    """A file of `lines` mutated lines around one seed shape, maybe gzipped (and maybe cut
    or damaged); returns where it is and how many inputs it holds."""
    every = _mutators(r)
    huge = every.pop()
    mutators = r.sample(every, r.randrange(1, 6))  # a few kinds per file: some files stay
    seeds = _seeds()  # on DuckDB's fast path, others take each repair path
    main = r.choice(seeds).encode()
    ends = [b"\n"] * 40 + [b"\r\n", b""]
    body_lines = [
        mutate(r, main if r.random() < 0.8 else r.choice(seeds).encode(), mutators)
        + r.choice(ends)
        for _ in range(lines)
    ]
    if r.random() < 0.05:  # a huge field costs time: one line in a few files
        i = r.randrange(lines)
        body_lines[i] = huge(body_lines[i])
    body = b"".join(body_lines)
    if r.random() < 0.05:
        body = r.randbytes(r.randrange(1, 200_000))
    mode = r.random()
    if mode < 0.15:
        packed = gzip.compress(body, compresslevel=1, mtime=0)  # no clock in the bytes
        if mode < 0.05:
            packed = packed[: r.randrange(2, len(packed) + 1)]
        elif mode < 0.08:
            i = r.randrange(10, len(packed)) if len(packed) > 10 else 0
            packed = packed[:i] + bytes([packed[i] ^ 0x40]) + packed[i + 1 :]
        path.write_bytes(packed)
    else:
        path.write_bytes(body)
    return path, lines


@dataclass
class Tally:
    inputs: int = 0
    loads: int = 0
    files: int = 0
    policies: int = 0
    largest: int = 0
    slowest: float = 0.0
    peak_load: str = ""
    """What last raised the peak: a load (file number, size, format, peak before and after, to
    reproduce it), or the making of a file."""
    crashes: list[str] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)
    """Crashes by target (`sources`, `policy`) and exception type."""

    def crash(self, target: str, what: str) -> None:
        kind = f"{target}: {sys.exc_info()[0].__module__}.{sys.exc_info()[0].__qualname__}"
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if len(self.crashes) < 20:
            self.crashes.append(f"{what}\n{traceback.format_exc()}")

    def count(self, target: str) -> int:
        return sum(n for kind, n in self.kinds.items() if kind.startswith(target + ":"))


def fuzz_sources(
    r: random.Random, tally: Tally, tmp: Path, lines: int, keep: int | None = None
) -> None:
    """Make the next file and load it; with `keep`, only save file number `keep` (named
    after its number and the format it is loaded with) in the current directory."""
    before = peak_mb()
    path, inputs = make_file(r, tmp / f"f{tally.files}.log", lines)
    if peak_mb() > before:  # a big file costs the harness itself a few times its size
        tally.peak_load = f"making file {tally.files} ({path.stat().st_size / 2**20:.1f} MB)"
    tally.files += 1
    tally.inputs += inputs
    tally.largest = max(tally.largest, path.stat().st_size)
    formats = [*REGISTRY, None]  # in turn: every registered format, and detection
    fmt = formats[(tally.files - 1) % len(formats)]
    if keep is not None:
        if tally.files - 1 == keep:
            kept = Path.cwd() / f"fuzz-file-{keep}-{fmt or 'detected'}.log"
            shutil.copyfile(path, kept)
            print(f"file {keep}, loaded as {fmt or 'detected'}: {kept}", file=sys.stderr)
        path.unlink()
        return
    peak_before = peak_mb()
    con = duckdb.connect()
    start = time.monotonic()
    try:
        report = load_events(con, [str(path)], fmt=fmt)
        if report.lines != report.events + report.malformed:
            raise AssertionError(f"unbalanced report {report.lines} {report.events} "
                                 f"{report.malformed}")
    except SourceError:
        pass
    except Exception:
        tally.crash("sources", f"format {fmt} on file {tally.files - 1}")
    finally:
        con.close()
    tally.slowest = max(tally.slowest, time.monotonic() - start)
    tally.loads += 1
    if (now := peak_mb()) > peak_before:
        tally.peak_load = (f"file {tally.files - 1} ({path.stat().st_size / 2**20:.1f} MB)"
                           f" as {fmt or 'detected'}: {peak_before:.0f} -> {now:.0f} MB")
    path.unlink()


def mutate_policy(r: random.Random, text: str) -> str:
    b = text.encode()
    ops = [
        lambda b: b[: r.randrange(len(b) + 1)],
        lambda b: b + b"\n" + r.choice([b"&a [*a, *a]", b"x: !!python/object:os.system x",
                                        b"- " * 200, b"{" * 500, b"? " * 50, b"\t",
                                        b"a: *nope", b"\x00", b"\xff"]),
        lambda b: (lambda i: b[:i] + r.randbytes(r.randrange(1, 8)) + b[i:])(
            r.randrange(len(b) + 1)),
        lambda b: (lambda i: b[:i] + b[i + r.randrange(1, 40) :])(r.randrange(len(b) + 1)),
        lambda b: (lambda i: b[:i] + r.choice([b"\n", b": ", b"- ", b"  ", b"'", b'"', b"#"])
                   + b[i:])(r.randrange(len(b) + 1)),
    ]
    for _ in range(r.randrange(1, 4)):
        b = r.choice(ops)(b)
    return b.decode("utf-8", "replace") if r.random() < 0.5 else b.decode("latin-1")


def fuzz_policy(
    r: random.Random, tally: Tally, tmp: Path, pack: list[str], keep: int | None = None
) -> None:
    text = mutate_policy(r, r.choice(pack))
    path = tmp / "policy.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    tally.inputs += 1
    tally.policies += 1
    if keep is not None:
        return
    start = time.monotonic()
    try:  # check_policy never raises; load_policy raises PolicyError only
        if tally.policies % 2:
            check_policy(path)
        else:
            load_policy(path)
    except PolicyError:
        pass
    except Exception:
        tally.crash("policy", f"policy text {text[:500]!r}")
    tally.slowest = max(tally.slowest, time.monotonic() - start)


def cpu_seconds() -> float:
    """CPU time of this process, DuckDB's threads included: on a busy machine the wall
    time says more about the neighbours than about the parsers."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_mb() -> float:
    """This process's own peak RSS. Linux keeps `ru_maxrss` across exec, so a child of a big
    process (pytest after a few hundred tests) would report its parent's peak; `VmHWM` is the
    high-water mark of this program's own memory."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(
    inputs: int, seed: int, lines: int = 20_000, policy_share: float = 0.005,
    keep: int | None = None,
) -> Tally:
    """Fuzz until `inputs` inputs are done; about `policy_share` of them are policies.
    With `keep`, load nothing: replay the same random choices up to file number `keep`
    and save that file (see `fuzz_sources`), to reproduce a failing load."""
    r = random.Random(seed)
    tally = Tally()
    pack = [*POLICY_SEEDS, default_pack().read_text(encoding="utf-8")]
    with tempfile.TemporaryDirectory(prefix="sg-fuzz-") as tmp:
        while tally.inputs < inputs and (keep is None or tally.files <= keep):
            if tally.policies < policy_share * tally.inputs:
                fuzz_policy(r, tally, Path(tmp), pack, keep)
            else:
                size = min(r.randrange(100, lines + 1), inputs - tally.inputs)
                fuzz_sources(r, tally, Path(tmp), size, keep)
    return tally


def check_memory(tally: Tally) -> float:
    """The limit the peak must stay under, in MB."""
    return BASE_MB + 10 * tally.largest / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lines", type=int, default=20_000, help="mutated lines per file")
    parser.add_argument("--keep", type=int, metavar="N",
                        help="load nothing; save file number N of this run here (see peak_load)")
    args = parser.parse_args(argv)
    start = time.monotonic()
    tally = run(args.inputs, args.seed, args.lines, keep=args.keep)
    if args.keep is not None:
        return 0
    figures = {
        "inputs": tally.inputs, "files": tally.files, "loads": tally.loads,
        "policies": tally.policies, "formats": sorted(REGISTRY),
        "seconds": round(time.monotonic() - start, 1), "cpu_s": round(cpu_seconds(), 1),
        "slowest_load_s": round(tally.slowest, 2),
        "peak_mb": round(peak_mb(), 1), "limit_mb": round(check_memory(tally), 1),
        "largest_input_mb": round(tally.largest / 2**20, 2), "peak_load": tally.peak_load,
        "crashes_sources": tally.count("sources"), "crashes_policy": tally.count("policy"),
        "crash_kinds": tally.kinds,
    }
    for crash in tally.crashes[:5]:
        print(crash, file=sys.stderr)
    print(json.dumps(figures))
    ok = not tally.kinds and figures["peak_mb"] <= figures["limit_mb"]
    return 0 if ok and tally.slowest <= MAX_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
