"""Benchmark `scrapeguard analyze` on a synthetic nginx log against DuckDB's own speed.

    python bench/analyze.py                    # 10M lines (~2.4 GB in bench/out/), 3 runs each
    python bench/analyze.py --lines 1000000    # the figure issue #12 tracks
    python bench/analyze.py --lines 200000 --repeat 1 --check
    python bench/analyze.py --fixed-only       # the fixed cost alone, medians of 5

Baselines, each run as its own child process in the same run: `wc -l`, a Python line loop,
and the reference query (`REFERENCE_SQL`: DuckDB on 2 threads reads the file with
`read_csv(delim=' ')` and counts requests and distinct paths per address), the speed of the
database under analyze. Then the fixed cost: analyze of an empty log beside
`python -c 'import duckdb'` (medians of `--fixed-repeat`), and of a ten-line log, which runs
the whole engine on almost nothing (`--fixed-only`: these alone). Wall time and peak memory (from
wait4) are taken per run and the medians reported; targets are printed, not asserted.
Exits 1 if `scrapeguard analyze` is missing or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import (
    GENERATOR_VERSION,
    Run,
    check_log,
    generate_log,
    rss_method,
    run_measured,
    truth_path,
)

HERE = Path(__file__).resolve().parent
TARGET_LINES_PER_S = 1_000_000
TARGET_REFERENCE_RATIO = 2.5
"""analyze's wall time over the reference query's on the same file (issue #12)."""
TARGET_FIXED_S = 1.0
"""analyze of an empty log at most this much above `import duckdb` (issue #12)."""
REFERENCE_THREADS = 2
REFERENCE_SQL = """
SELECT count(*) AS addresses, sum(requests) AS requests, sum(paths) AS paths FROM (
    SELECT column00 AS ip, count(*) AS requests,
           count(DISTINCT split_part(column05, ' ', 2)) AS paths
    FROM read_csv(?, delim = ' ', quote = '"', escape = '"', header = false,
                  auto_detect = false, null_padding = true, ignore_errors = true,
                  strict_mode = false,
                  columns = {'column00': 'VARCHAR', 'column01': 'VARCHAR',
                             'column02': 'VARCHAR', 'column03': 'VARCHAR',
                             'column04': 'VARCHAR', 'column05': 'VARCHAR',
                             'column06': 'VARCHAR', 'column07': 'VARCHAR',
                             'column08': 'VARCHAR', 'column09': 'VARCHAR'})
    GROUP BY ip
)
"""
"""The reference: one scan of the combined log, split on spaces (the quoted request, referer
and agent stay one field each), requests and distinct paths per address. It is what any
per-address feature costs at the least in the database analyze runs on."""
REFERENCE = (
    "import sys, duckdb\n"
    f"con = duckdb.connect(config={{'threads': {REFERENCE_THREADS}}})\n"
    f"print(con.execute({REFERENCE_SQL!r}, [sys.argv[1]]).fetchall())\n"
)
IMPORT_DUCKDB = "import duckdb"
TARGET_RSS_BYTES = 3 * 1024**3
BYTES_PER_LINE = 250
PY_LOOP = "import sys\nn = 0\nfor line in open(sys.argv[1], 'rb'):\n    n += 1\nprint(n)\n"


def log_options(description: str) -> argparse.ArgumentParser:
    """The options every benchmark on the generated log shares (analyze, report)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--lines", type=int, default=10_000_000, help="lines to generate (>= 10000)")
    p.add_argument("--seed", type=int, default=1, help="generator seed")
    p.add_argument("--out", type=Path, default=HERE / "out", help="where the log and outputs go")
    p.add_argument("--log", type=Path, help="benchmark this existing log instead of generating")
    p.add_argument("--repeat", type=int, default=3, help="runs of each command; medians reported")
    p.add_argument("--json", type=Path, help="also save the figures here")
    p.add_argument("--scrapeguard", default=None,
                   help="command that runs scrapeguard (default: the one beside this Python)")
    return p


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = log_options(__doc__.split("\n")[0])
    p.add_argument("--regenerate", action="store_true", help="rewrite the log even if present")
    p.add_argument("--generate-only", action="store_true", help="write the log, measure nothing")
    p.add_argument("--check", action="store_true",
                   help="verify every line is nginx combined before measuring")
    p.add_argument("--no-numpy", action="store_true", help="generate with the standard library")
    p.add_argument("--analyze-args", default="", help="extra arguments for scrapeguard analyze")
    p.add_argument("--baseline", default=None,
                   help="another scrapeguard command (e.g. an older checkout) measured in the"
                   " same loop, run for run, as `baseline analyze`")
    p.add_argument("--fixed-repeat", type=int, default=5,
                   help="runs of analyze on an empty log and of `import duckdb` (0: skip)")
    p.add_argument("--fixed-only", action="store_true",
                   help="measure the fixed cost only (no log generated, no large run)")
    args = p.parse_args(argv)
    if args.lines < 10_000 or args.repeat < 1 or args.fixed_repeat < 0:
        p.error("--lines must be >= 10000, --repeat >= 1 and --fixed-repeat >= 0")
    if args.fixed_only and not args.fixed_repeat:
        p.error("--fixed-only needs --fixed-repeat >= 1")
    return args


# ---------------------------------------------------------------- the log


def ensure_log(args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    """The log to measure, generated unless an identical one is already there."""
    if args.log:
        if not args.log.is_file():
            sys.exit(f"no such log: {args.log}")
        return args.log, {"source": str(args.log)}
    engine = "random" if args.no_numpy else "numpy"
    log = args.out / f"access-{args.lines}-seed{args.seed}-{engine}.log"
    info: dict[str, Any] = {"source": "generated", "lines": args.lines, "seed": args.seed}
    truth_file = truth_path(log)
    if log.is_file() and truth_file.is_file() and not args.regenerate:
        truth = json.loads(truth_file.read_text())
        if truth.get("generator") == GENERATOR_VERSION:
            print(f"log: reusing {log} ({fmt_bytes(log.stat().st_size)})")
            return log, info | {"engine": truth["engine"]}
    need = args.lines * BYTES_PER_LINE * 11 // 10
    args.out.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(args.out).free
    if free < need:
        sys.exit(f"not enough disk in {args.out}: need ~{need / 1e9:.1f} GB, {free / 1e9:.1f} free")
    print(f"log: generating {args.lines:,} lines into {log} ...", flush=True)
    t0 = time.perf_counter()
    truth = generate_log(log, args.lines, args.seed, use_numpy=not args.no_numpy)
    took = time.perf_counter() - t0
    size = log.stat().st_size
    print(f"log: {fmt_bytes(size)}, {size / args.lines:.0f} B/line, written in {took:.1f} s"
          f" ({args.lines / took:,.0f} lines/s, engine {truth['engine']})")
    return log, info | {"engine": truth["engine"], "generate_s": round(took, 2)}


# ---------------------------------------------------------------- measuring


def scrapeguard_cmd(args: argparse.Namespace) -> list[str] | None:
    if args.scrapeguard:
        return shlex.split(args.scrapeguard)
    beside = Path(sys.executable).with_name("scrapeguard")
    found = str(beside) if beside.is_file() else shutil.which("scrapeguard")
    return [found] if found else None


def commands(args: argparse.Namespace, log: Path) -> dict[str, list[str] | None]:
    sg = scrapeguard_cmd(args)
    analyze = None
    if sg is not None:
        decisions = args.out / "decisions.jsonl"
        analyze = [*sg, "analyze", str(log), "--decisions", str(decisions),
                   *shlex.split(args.analyze_args)]
    cmds: dict[str, list[str] | None] = {
        "wc -l": ["wc", "-l", str(log)],
        "python loop": [sys.executable, "-c", PY_LOOP, str(log)],
        "reference query": [sys.executable, "-c", REFERENCE, str(log)],
        "scrapeguard analyze": analyze,
    }
    if args.baseline:
        cmds["baseline analyze"] = [*shlex.split(args.baseline), "analyze", str(log),
                                    "--decisions", str(args.out / "baseline-decisions.jsonl"),
                                    *shlex.split(args.analyze_args)]
    return cmds


SMALL_LOG = "".join(
    f'203.0.113.{n} - - [07/Dec/2026:05:00:{n:02d} +0000] "GET /users/{1000 + n} HTTP/1.1" 200'
    f' 5120 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0"\n'
    for n in range(10))
"""Ten requests: a log with events, so the whole engine runs (Ibis, every query) on almost
no data. An empty log is judged without it (`analysis._nothing_read`)."""


def fixed_commands(args: argparse.Namespace) -> dict[str, list[str] | None]:
    """analyze of an empty log (imports, policy: what every run pays) and its floor, and of a
    ten-line log (the engine's own fixed cost: building and running every query)."""
    sg = scrapeguard_cmd(args)
    args.out.mkdir(parents=True, exist_ok=True)
    empty, small = args.out / "empty.log", args.out / "ten-lines.log"
    empty.write_bytes(b"")
    small.write_text(SMALL_LOG, encoding="ascii")
    cmds: dict[str, list[str] | None] = {"import duckdb": [sys.executable, "-c", IMPORT_DUCKDB]}
    for name, log, command in (("analyze", empty, sg), ("baseline", empty, args.baseline),
                               ("analyze", small, sg), ("baseline", small, args.baseline)):
        if name == "baseline" and not command:
            continue
        what = "empty log" if log == empty else "10-line log"
        run = None if command is None else [
            *(shlex.split(command) if isinstance(command, str) else command), "analyze",
            str(log), "--quiet", "--decisions", str(args.out / f"{name}-{log.stem}.jsonl")]
        cmds[f"{name} {what}"] = run
    return cmds


KEPT_STDOUT = ("scrapeguard analyze", "reference query", "baseline analyze")


def measure(cmds: dict[str, list[str] | None], repeat: int, out: Path) -> dict[str, list[Run]]:
    runs: dict[str, list[Run]] = {name: [] for name in cmds}
    failed: set[str] = set()
    for i in range(repeat):
        for name, cmd in cmds.items():
            if name in failed:
                continue
            if cmd is None:
                runs[name].append(Run(0.0, 0, 127, "scrapeguard not found: pip install -e ."))
                failed.add(name)
                continue
            stdout = out / f"{name.replace(' ', '-')}.stdout" if name in KEPT_STDOUT else None
            run = run_measured(cmd, stdout)
            runs[name].append(run)
            state = "ok" if run.returncode == 0 else f"FAILED (exit {run.returncode})"
            print(f"  run {i + 1}/{repeat}  {name:<20} {run.wall_s:8.3f} s"
                  f"  {fmt_bytes(run.max_rss_kib * 1024):>9}  {state}", flush=True)
            if run.returncode != 0:
                failed.add(name)
    return runs


def summarize(runs: dict[str, list[Run]], lines: int) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for name, rs in runs.items():
        ok = [r for r in rs if r.returncode == 0]
        row: dict[str, Any] = {"ok": bool(rs) and len(ok) == len(rs), "runs": len(rs)}
        if row["ok"]:
            wall = statistics.median(r.wall_s for r in ok)
            row |= {"wall_s": round(wall, 3), "lines_per_s": round(lines / wall),
                    "peak_rss_bytes": int(statistics.median(r.max_rss_kib for r in ok)) * 1024,
                    "wall_s_all": [round(r.wall_s, 3) for r in ok]}
        else:
            bad = next(r for r in rs if r.returncode != 0)
            row |= {"returncode": bad.returncode, "stderr_tail": bad.stderr_tail}
        rows[name] = row
    return rows


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def print_table(rows: dict[str, dict[str, Any]], lines: int) -> None:
    print(f"\n{lines:,} lines, medians of each command's runs (peak RSS of that process tree)\n")
    print(f"{'command':<22}{'wall s':>9}{'lines/s':>14}{'peak RSS':>11}")
    for name, row in rows.items():
        if row["ok"]:
            print(f"{name:<22}{row['wall_s']:>9.2f}{row['lines_per_s']:>14,}"
                  f"{fmt_bytes(row['peak_rss_bytes']):>11}")
        else:
            print(f"{name:<22}{'FAILED, exit ' + str(row['returncode']):>34}")
    sg = rows["scrapeguard analyze"]
    if not sg["ok"]:
        return
    print()
    for name, row in rows.items():
        if name in ("wc -l", "python loop") and row["ok"]:
            ratio = sg["lines_per_s"] / row["lines_per_s"]
            print(f"analyze / {name:<12} {ratio:6.3f}x the lines/s")
    speed, rss = sg["lines_per_s"], sg["peak_rss_bytes"]
    ref = rows.get("reference query", {})
    if ref.get("ok"):
        for name in ("scrapeguard analyze", "baseline analyze"):
            row = rows.get(name, {})
            if row.get("ok"):
                print(f"{name} / reference query  {row['wall_s'] / ref['wall_s']:6.2f}x the time"
                      f" ({row['wall_s']:.2f} s / {ref['wall_s']:.2f} s)")
    print()
    targets = [
        (f"analyze >= {TARGET_LINES_PER_S:,} lines/s", speed >= TARGET_LINES_PER_S, f"{speed:,}"),
        (f"peak memory < {fmt_bytes(TARGET_RSS_BYTES)}", rss < TARGET_RSS_BYTES, fmt_bytes(rss)),
    ]
    if ref.get("ok"):
        ratio = sg["wall_s"] / ref["wall_s"]
        targets.append((f"analyze <= {TARGET_REFERENCE_RATIO}x reference",
                        ratio <= TARGET_REFERENCE_RATIO, f"{ratio:.2f}x"))
    for label, met, figure in targets:
        print(f"target  {label:<30} {'met' if met else 'MISSED':<7} ({figure})")


def print_fixed(rows: dict[str, dict[str, Any]]) -> None:
    """The fixed cost: what analyze of nothing costs above loading DuckDB in Python."""
    floor, empty = rows["import duckdb"], rows["analyze empty log"]
    if not (floor["ok"] and empty["ok"]):
        failed = "import duckdb" if not floor["ok"] else "analyze empty log"
        print(f"\nfixed cost: {failed} FAILED")
        return
    above = empty["wall_s"] - floor["wall_s"]
    print(f"\nfixed cost, medians of {empty['runs']}: analyze of an empty log"
          f" {empty['wall_s']:.2f} s, python -c 'import duckdb' {floor['wall_s']:.2f} s:"
          f" {above:.2f} s above")
    for name, label in (("baseline empty log", "baseline: analyze of an empty log"),
                        ("analyze 10-line log", "analyze of a 10-line log"),
                        ("baseline 10-line log", "baseline: analyze of a 10-line log")):
        row = rows.get(name, {})
        if row.get("ok"):
            print(f"{label} {row['wall_s']:.2f} s: {row['wall_s'] - floor['wall_s']:.2f} s above")
    print(f"target  {'fixed cost <= import duckdb + ' + str(TARGET_FIXED_S) + ' s':<30}"
          f" {'met' if above <= TARGET_FIXED_S else 'MISSED':<7} ({above:.2f} s)")


# ---------------------------------------------------------------- what analyze found


def decisions_summary(decisions: Path, log: Path) -> dict[str, Any] | None:
    """How many actors were acted on, and which embedded harvesters and good crawlers among them."""
    if not decisions.is_file():
        return None
    acted: dict[str, str] = {}
    with decisions.open() as f:
        for line in f:
            d = json.loads(line)
            if d.get("action", "allow") != "allow":
                for key in [d["actor"], *(d.get("members") or [])]:
                    acted.setdefault(key, d["action"])
    summary: dict[str, Any] = {"actors_acted_on": len(acted)}
    tp = truth_path(log)
    if tp.is_file():
        truth = json.loads(tp.read_text())
        summary["harvesters"] = {
            h["name"]: sorted({acted[a] for a in h["actors"] + h["members"] if a in acted})
            for h in truth["harvesters"]
        }
        summary["benign_crawlers_acted_on"] = sum(a in acted for a in truth["benign_crawlers"])
    return summary


def print_decisions(summary: dict[str, Any] | None) -> None:
    if summary is None:
        print("\ndecisions: no decisions file written")
        return
    print(f"\ndecisions: {summary['actors_acted_on']:,} actors acted on (actors and members)")
    for name, actions in summary.get("harvesters", {}).items():
        print(f"  harvester {name:<16} {', '.join(actions) if actions else 'NOT acted on'}")
    if "benign_crawlers_acted_on" in summary:
        print(f"  good crawlers acted on: {summary['benign_crawlers_acted_on']}")


# ---------------------------------------------------------------- main


def machine() -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": len(os.sched_getaffinity(0)), "commit": commit, "rss_method": rss_method()}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.fixed_only:
        print(f"measuring {args.fixed_repeat} run(s) of the fixed cost")
        fixed = summarize(measure(fixed_commands(args), args.fixed_repeat, args.out), 1)
        print_fixed(fixed)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"machine": machine(), "fixed_cost": fixed,
                                             "target_fixed_s": TARGET_FIXED_S}, indent=2) + "\n")
        return 0 if all(row["ok"] for row in fixed.values()) else 1
    log, info = ensure_log(args)
    if args.check:
        t0 = time.perf_counter()
        n, bad = check_log(log)
        print(f"check: {n:,} lines, {'all' if not bad else 'NOT all'} nginx combined"
              f" ({time.perf_counter() - t0:.1f} s)")
        for b in bad:
            print(f"  {b}")
        if bad:
            return 1
    if args.generate_only:
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    warm = subprocess.run(["wc", "-l", str(log)], capture_output=True, text=True, check=True)
    lines = int(warm.stdout.split()[0])  # also brings the file into the page cache
    (args.out / "decisions.jsonl").unlink(missing_ok=True)  # never read a stale one
    print(f"measuring {args.repeat} run(s) of each command on {log}"
          f" (warm page cache; peak RSS by {rss_method()})")
    rows = summarize(measure(commands(args, log), args.repeat, args.out), lines)
    print_table(rows, lines)
    fixed: dict[str, dict[str, Any]] = {}
    if args.fixed_repeat:
        print(f"\nmeasuring {args.fixed_repeat} run(s) of the fixed cost")
        fixed = summarize(measure(fixed_commands(args), args.fixed_repeat, args.out), 1)
        print_fixed(fixed)
    sg = rows["scrapeguard analyze"]
    decisions = None
    if sg["ok"]:
        decisions = decisions_summary(args.out / "decisions.jsonl", log)
        print_decisions(decisions)
    else:
        tail = "\n".join(sg["stderr_tail"].rstrip().splitlines()[-20:]) or "(empty)"
        sys.stdout.flush()
        print(f"\nscrapeguard analyze FAILED (exit {sg['returncode']}); the end of its stderr:"
              f"\n{tail}", file=sys.stderr)
        sys.stderr.flush()
    if args.json:
        report = {"log": info | {"path": str(log), "lines": lines, "bytes": log.stat().st_size},
                  "machine": machine(), "commands": rows, "fixed_cost": fixed,
                  "decisions": decisions, "reference_sql": REFERENCE_SQL,
                  "reference_threads": REFERENCE_THREADS,
                  "targets": {"lines_per_s": TARGET_LINES_PER_S,
                              "peak_rss_bytes": TARGET_RSS_BYTES,
                              "reference_ratio": TARGET_REFERENCE_RATIO,
                              "fixed_s_above_import_duckdb": TARGET_FIXED_S}}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nfigures saved to {args.json}")
    return 0 if all(row["ok"] for row in [*rows.values(), *fixed.values()]) else 1


if __name__ == "__main__":
    sys.exit(main())
