"""End-to-end fuzzing of scrapeguard's commands with hostile values in legal-looking lines.

`fuzzing.py` stops at the loaders; this runs what comes after them. Each mutant is a small
file (200 lines; 500 for the `@acted` classes) of one format, built from templates after the
samples in `tests/data/formats`, where a share of the lines carry hostile values of ONE
class: a field's values (ip, time, status, bytes, method, path, ua, referer, user, xff),
text classes in every text field (control, markup, badutf8, overlong, nul, crlf, huge),
wrong JSON types, byte-level damage (truncation at every field boundary, flips, fields
swapped, duplicated or dropped, NUL, invalid and overlong UTF-8, CR, CRLF, ESC, blank
lines), and whole-file damage (gzip cut, with trailing garbage, concatenated or with an
empty member; a BOM only; an empty file; CRLF endings). A class `X@acted` puts one hostile
value of class X on every line of a client that enumerates `/user/{n}`, so that a rule
acts on it and its text reaches the decisions, the table and the report.

Each mutant goes through `analyze` (table printed, decisions and both reports written),
`routes` and `watch --once`, each in a fresh interpreter with a timeout. A problem is a
traceback, an exit code but 0 (`--max-malformed 100%` is given), a hang, or output (or, with
`--html`, a report page) holding a control character, or Rich markup or an emoji code
applied. Results go to OUT/results.jsonl; the files of problem mutants are kept in OUT.

    PYTHONPATH=src python tests/e2e_fuzzing.py --out /tmp/e2e --seed 1
    PYTHONPATH=src python tests/e2e_fuzzing.py --out /tmp/e2e-acted --html \\
        --classes control@acted markup@acted user@acted ua@acted path@acted referer@acted
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
CONF = ROOT / "tests/data/formats/nginx.conf"
MARK = "SGMARK"

CLF = "06/Dec/2026:21:07:{s:02d} +0000"
TEMPLATES: dict[str, str] = {
    "combined": '{ip} - {user} [{clf}] "{method} {path} HTTP/1.1" {status} {bytes} "{ref}" "{ua}"',
    "common": '{ip} - {user} [{clf}] "{method} {path} HTTP/1.1" {status} {bytes}',
    "vhost_combined": 'shop.example:80 {ip} - {user} [{clf}] "{method} {path} HTTP/1.1" {status}'
                      ' {bytes} "{ref}" "{ua}"',
    "syslog_combined": 'Dec  6 21:07:19 vm nginx: {ip} - {user} [{clf}] "{method} {path} '
                       'HTTP/1.1" {status} {bytes} "{ref}" "{ua}"',
    "haproxy": 'Dec  6 21:07:19 localhost haproxy[8363]: {ip}:41036 [{clfms}] shop app/nginx1 '
               '0/0/0/0/0 {status} {bytes} - - ---- 1/1/0/0/0 0/0 "{method} {path} HTTP/1.1"',
    "alb": 'https {iso} app/shop-lb/50dc6c495c0c9188 {ip}:2817 10.0.0.1:80 0.000 0.001 0.000 '
           '{status} {status} 34 {bytes} "{method} https://shop.example:443{path} HTTP/1.1" '
           '"{ua}" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/shop/73e '
           '"Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 {iso} "forward" "-" "-" '
           '"10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90',
    "nginx-custom": '{ip} - {user} [{clf}] "{method} {path} HTTP/1.1" {status} {bytes} "{ref}" '
                    '"{ua}" rt=0.000 uct="-" urt="-" xff="{xff}" sid={sid} host=127.0.0.1',
    "nginx-iso": '{iso} {msec} {ip} {method} {path} uri={path} args=- {status} {bytes} 0.000 '
                 '"{ua}"',
}
JSON_FORMATS = ("caddy", "traefik", "jsonl")
FORMATS = [*TEMPLATES, *JSON_FORMATS]
FORMAT_ARGS = {
    "nginx-custom": ["--nginx-conf", str(CONF), "--log-format", "custom"],
    "nginx-iso": ["--nginx-conf", str(CONF), "--log-format", "iso"],
}

UAS = ["Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
       "curl/7.88.1", "python-requests/2.31.0", "Go-http-client/1.1"]


def base_values(i: int, r: random.Random) -> dict[str, object]:
    """Ordinary values for line i: five clients, one of them enumerating /user/{n}."""
    client = i % 5
    path = (f"/user/{i}" if client == 0 else
            r.choice(["/", "/index.html", "/search?q=anna", f"/user/{r.randrange(50)}?x=1",
                      "/static/app.js", "/api/login", "/img/a.png"]))
    s = (i // 5) % 60  # five clients a second, in order
    return {
        "ip": f"203.0.113.{client + 7}", "user": "u_1" if client == 1 else "-",
        "clf": CLF.format(s=s), "clfms": CLF.format(s=s)[:-6] + ".830",
        "iso": f"2026-12-06T21:07:{s:02d}.186641Z", "msec": f"1796591{200 + i}.541",
        "epoch": 1796591239.97 + i, "method": "POST" if path == "/api/login" else "GET",
        "path": path, "status": 200 if client else r.choice([200, 200, 404]),
        "bytes": 512, "ref": "-" if client else "https://shop.example/", "ua": UAS[client % 4],
        "xff": "198.51.100.23" if client == 2 else "-", "sid": f"s_{client}",
        "account": "u_1" if client == 1 else None, "subjects": [f"p{i}"] if client == 0 else None,
    }


def json_line(fmt: str, v: dict[str, object], raw: dict[str, object] | None = None) -> str:
    """A JSON line of `fmt`; `raw` overrides contract fields with values of any type."""
    raw = raw or {}
    if fmt == "jsonl":
        obj: dict[str, object] = {
            "ts": v["iso"], "ip": v["ip"], "method": v["method"], "path": v["path"],
            "status": v["status"], "bytes": v["bytes"], "ua": v["ua"],
            "referer": None if v["ref"] == "-" else v["ref"], "account": v["account"],
            "session": v["sid"], "subjects": v["subjects"], "fields": ["name"]
            if v["subjects"] else None,
        }
        names = {"ts": "ts", "ip": "ip", "method": "method", "path": "path", "status": "status",
                 "bytes": "bytes", "ua": "ua", "referer": "referer", "account": "account",
                 "session": "session", "subjects": "subjects", "fields": "fields"}
        for key, value in raw.items():
            obj[names.get(key, key)] = value
        return json.dumps(obj)
    if fmt == "caddy":
        req = {"remote_ip": raw.get("ip", v["ip"]), "remote_port": "41544", "proto": "HTTP/1.1",
               "method": raw.get("method", v["method"]), "host": "shop.example",
               "uri": raw.get("path", v["path"]),
               "headers": {"User-Agent": [raw.get("ua", v["ua"])],
                           "Referer": [raw.get("referer", v["ref"])]}}
        return json.dumps({"level": "info", "ts": raw.get("ts", v["epoch"]),
                           "logger": "http.log.access.log0", "msg": "handled request",
                           "request": req, "user_id": raw.get("account", ""), "duration": 0.1,
                           "size": raw.get("bytes", v["bytes"]),
                           "status": raw.get("status", v["status"])})
    obj = {"ClientAddr": f"{v['ip']}:51234", "ClientHost": raw.get("ip", v["ip"]),
           "ClientUsername": raw.get("account", "-"),
           "DownstreamContentSize": raw.get("bytes", v["bytes"]),
           "DownstreamStatus": raw.get("status", v["status"]), "Duration": 1843000,
           "RequestHost": "shop.example", "RequestMethod": raw.get("method", v["method"]),
           "RequestPath": raw.get("path", v["path"]), "RequestProtocol": "HTTP/1.1",
           "StartUTC": raw.get("ts", v["iso"]), "level": "info", "msg": "",
           "request_User-Agent": raw.get("ua", v["ua"]),
           "request_Referer": raw.get("referer", v["ref"]), "time": v["iso"]}
    return json.dumps(obj)


def render(fmt: str, v: dict[str, object], raw: dict[str, object] | None = None) -> bytes:
    if fmt in JSON_FORMATS:
        return json_line(fmt, v, raw).encode("utf-8", "surrogateescape")
    values = {**v, **(raw or {})}
    # a hostile time value replaces every time field of the template
    if "time" in values:
        for k in ("clf", "clfms", "iso", "msec"):
            values[k] = values["time"]
    out = TEMPLATES[fmt]
    for key, value in values.items():
        out = out.replace("{" + key + "}", str(value))
    return out.encode("utf-8", "surrogateescape")


# Hostile values: text as str (invalid bytes as surrogate escapes), one list per class.
def _b(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


CONTROL = ["\x1b[31mRED\x1b[0m", "\x1b]0;pwned\x07", "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\",
           "ab\rXY", "abc\x08\x08\x08XYZ", "\u202eevil", "a\x00b", "\x9b31m", "\x07bell"]
MARKUP = [f"[bold]{MARK}[/bold]", f"[/]{MARK}", f"[link=http://evil]{MARK}[/link]",
          f":smile:{MARK}", f"[red]{MARK}", "%s%n%x{0}{}"]
TEXT_VALUES = {
    "control": CONTROL, "markup": MARKUP,
    "badutf8": [_b(b"\xff\xfe"), _b(b"a\xc3"), _b(b"\xed\xa0\x80"), _b(b"\xf4\x90\x80\x80")],
    "overlong": [_b(b"\xc0\xaf"), _b(b"\xe0\x80\xaf"), _b(b"\xc1\xbf"), _b(b"\xf0\x80\x80\xaf")],
    "nul": ["\x00", "a\x00\x00b", "\x00" * 100],
    "crlf": ["a\r\nb", "a\rb", "\r", "a\nb"],
    "huge": ["x" * 1_000_000, "/" * 100_000, "%" * 50_000, "\\\"" * 20_000],
}
VALUES: dict[str, dict[str, list[object]]] = {
    "ip": {"ip": ["fe80::1%eth0", "::ffff:192.0.2.1", "192.0.2.1:8080", "[2001:db8::1]:443",
                  "999.1.1.1", "-", "", "0.0.0.0", "::", "::1", "2001:db8::1/64",
                  "1" * 1000, "::ffff:999.0.0.1", "fe80::1%" + "e" * 300, "unknown",
                  f"[bold]{MARK}"]},
    "time": {"time": ["06/Dec/0000:21:07:19 +0000", "06/Dec/9999:23:59:59 +0000",
                      "30/Feb/2026:21:07:19 +0000", "06/Dec/2026:21:07:19 +9999",
                      "06/Dec/2026:21:07:19 -9999", "06/Dec/2026:25:61:61 +0000",
                      "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-02-30T10:00:00Z",
                      "2026-12-06T21:07:19+99:99", "-1.000", "-99999999999.000",
                      "99999999999999999999", "1e300", "nan", "inf", "01/Jan/1970:00:00:00 +0000",
                      "19/Jan/2038:03:14:08 +0000", "01/Jan/1:00:00:00 +0000"]},
    "status": {"status": [0, 999, -1, 99999999999, "1e3", "2OO", "000", 600, 100, 2**63]},
    "bytes": {"bytes": ["9223372036854775808", "99999999999999999999", -1, "-", "1e400",
                        "18446744073709551616", "9223372036854775807", 0]},
    "method": {"method": ["A" * 10_000, "G\x00T", "GET\x1b[2J", f"[bold]{MARK}", "-", "",
                          "get", "PROPFIND", "\u202eTEG"]},
    "path": {"path": ["/a" * 500_000, "/user/" + "9" * 10_000, "/" + "/".join(["a"] * 5000),
                      "/%zz%00%ff%", "/\x1b]0;title\x07", f"/user/[bold]{MARK}[/bold]",
                      "/user/{n}", "/a?" + "x=1&" * 20_000, "*", "http://evil/x", "//",
                      "/..%2f..%2f", "/ü/ß", _b(b"/\xc0\xaf"), _b(b"/\xff\xfe"), "/a\x00b",
                      "/a\rb", "/a\x08\x08b", "/\u202eevil", "-", "", "/user/-1",
                      "/user/99999999999999999999999", "/user/1e5", "/%E2%80%AE",
                      "/user/%1b%5b31m", "/" + "é" * 10_000]},
    "ua": {"ua": [*CONTROL, *MARKUP, "x" * 1_000_000, "", "-", "\\x1b[31m"]},
    "referer": {"ref": [*CONTROL, *MARKUP, "http://" + "a" * 100_000, "javascript:alert(1)"]},
    "user": {"user": [*[c.replace(" ", "") for c in CONTROL], f"[bold]{MARK}", "A" * 10_000,
                      "%s", "-"]},
    "xff": {"xff": [", ".join(["198.51.100.1"] * 100_000), "unknown", "fe80::1%eth0, 1.2.3.4",
                    "::ffff:1.2.3.4", "1.2.3.4:80", "\x1b[31m", ",,,", "999.9.9.9"]},
}
for name, values in TEXT_VALUES.items():  # text classes hit every text field
    VALUES[name] = {"path": [f"/user/{x}" for x in values], "ua": list(values),
                    "ref": list(values), "user": list(values), "method": list(values)}
JSON_TYPES: dict[str, list[object]] = {
    "status": ["200", 2.5, True, 1e20, None, [], {}, -1, 2**70],
    "bytes": ["12", 1e30, -5, 2**64, True, {}, [1]],
    "ts": [1e300, -1, "x", True, None, 0, -1e15, "2026-02-30T00:00:00Z", {}, [], 2**64,
           "9999-12-31T23:59:59.999999999Z", 1e11, -62135596801],
    "ip": [123, {"a": 1}, ["1.2.3.4"], None, "", "fe80::1%eth0", True],
    "path": [["x"], {"a": "b"}, 5, None, ""],
    "method": [["GET"], 1, {}],
    "ua": [{"x": 1}, ["a"], 5, False],
    "referer": [{"x": 1}, 7],
    "account": [{}, ["a"], 7, True, ""],
    "session": [[], 0],
    "subjects": ["x", [1, None, {}], {}, [[]], ["p"] * 50_000, [""], 5, True, [None]],
    "fields": [{}, "phone", [1], [[]], True],
}


def tokens(line: bytes) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(rb'"(?:[^"\\]|\\.)*"|\[[^\]]*\]|\S+', line)]


def line_mutators(r: random.Random) -> dict[str, Callable[[bytes], list[bytes]]]:
    """Byte-level classes: one good line in, one or more lines out."""

    def trunc(b: bytes) -> list[bytes]:  # one line per field boundary
        return [b[:end] for _, end in tokens(b)[:-1]] + [b[:start] for start, _ in tokens(b)[1:]]

    def flip(b: bytes) -> list[bytes]:
        out = bytearray(b)
        for _ in range(r.randrange(1, 4)):
            i = r.randrange(len(out))
            out[i] ^= 1 << r.randrange(8)
        return [bytes(out)]

    def swap(b: bytes) -> list[bytes]:
        t = tokens(b)
        if len(t) < 2:
            return [b]
        (a0, a1), (b0, b1) = sorted(r.sample(t, 2))
        return [b[:a0] + b[b0:b1] + b[a1:b0] + b[a0:a1] + b[b1:]]

    def dup(b: bytes) -> list[bytes]:
        s, e = r.choice(tokens(b))
        return [b[:e] + b" " + b[s:e] + b[e:]]

    def drop(b: bytes) -> list[bytes]:
        s, e = r.choice(tokens(b))
        return [b[:s] + b[e:].lstrip()]

    def insert(piece: bytes) -> Callable[[bytes], list[bytes]]:
        return lambda b: (lambda i: [b[:i] + piece + b[i:]])(r.randrange(len(b) + 1))

    return {
        "trunc": trunc, "flip": flip, "swap": swap, "dup": dup, "drop": drop,
        "ins-nul": insert(b"\x00"), "ins-badutf8": insert(b"\xff\xc3"),
        "ins-overlong": insert(b"\xc0\xaf"), "ins-cr": insert(b"\r"),
        "ins-crlf": insert(b"\r\n"), "ins-esc": insert(b"\x1b[2J\x1b]0;x\x07"),
        "empty": lambda b: [b, b"", b"   ", b"\t"],
    }


def make_mutant(fmt: str, cls: str, r: random.Random, n: int = 200) -> tuple[bytes, str]:
    """The file's bytes and a one-line description."""
    goods = [base_values(i, r) for i in range(n)]
    lines: list[bytes] = []
    note = cls
    bytewise = line_mutators(r)
    if cls.endswith("@acted"):  # one hostile value per field on every line of the harvester
        base = cls.removesuffix("@acted")
        chosen = {f: r.choice(vals) for f, vals in VALUES[base].items() if f != "method"}
        if fmt in JSON_FORMATS:
            chosen = {{"user": "account", "ref": "referer"}.get(f, f): v for f, v in chosen.items()}
        if "path" in chosen:
            chosen["path"] = str(chosen["path"]) + "/{n}"
        out = []
        goods = [base_values(i, r) for i in range(500)]
        for i, v in enumerate(goods):
            if i % 5 == 0:
                v = {**v, "path": f"/user/{i // 5}", "subjects": [f"p{i // 5}"]}
                raw = {**chosen}
                if "path" in raw:
                    raw["path"] = str(raw["path"]).replace("{n}", str(i // 5))
                if fmt in JSON_FORMATS:
                    raw.setdefault("account", "u_9")
                out.append(render(fmt, v, raw))
            else:
                out.append(render(fmt, v))
        return b"\n".join(out) + b"\n", cls
    for v in goods:
        hit = r.random() < 0.25
        if not hit:
            lines.append(render(fmt, v))
        elif cls in VALUES:
            field = r.choice(list(VALUES[cls]))
            value = r.choice(VALUES[cls][field])
            if fmt in JSON_FORMATS and field in ("user", "ref", "time"):
                field = {"user": "account", "ref": "referer", "time": "ts"}[field]
            lines.append(render(fmt, v, {field: value}))
        elif cls == "json-types":
            if fmt not in JSON_FORMATS:
                lines.append(render(fmt, v))
                continue
            field = r.choice(list(JSON_TYPES))
            lines.append(render(fmt, v, {field: r.choice(JSON_TYPES[field])}))
        elif cls == "crlf-file":  # every line intact, each ended by CRLF
            lines.append(render(fmt, v))
        else:
            lines.extend(bytewise[cls](render(fmt, v)))
    end = b"\r\n" if cls == "crlf-file" else b"\n"
    body = end.join(lines) + end
    return body, note


FILE_CLASSES = ["gzip-cut", "gzip-trailing", "gzip-concat", "bom-only", "empty-file",
                "blank-lines", "gzip-empty-member"]


def make_file_mutant(fmt: str, cls: str, r: random.Random) -> bytes:
    good = b"\n".join(render(fmt, base_values(i, r)) for i in range(200)) + b"\n"
    packed = gzip.compress(good, mtime=0)
    if cls == "gzip-cut":
        return packed[: r.randrange(20, len(packed) - 10)]
    if cls == "gzip-trailing":
        return packed + r.choice([b"garbage\n", b"\x00" * 100, r.randbytes(50)])
    if cls == "gzip-concat":
        half = good.split(b"\n")
        return (gzip.compress(b"\n".join(half[:100]) + b"\n", mtime=0)
                + gzip.compress(b"\n".join(half[100:]), mtime=0))
    if cls == "gzip-empty-member":
        return gzip.compress(b"", mtime=0) + packed
    if cls == "bom-only":
        return b"\xef\xbb\xbf"
    if cls == "empty-file":
        return b""
    return b"\n\n\n" + good.replace(b"\n", b"\n\n") + b"\n \n\t\n"


BAD_OUT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b\u202a-\u202e\u2066-\u2069]")


def run_cmd(args: list[str], timeout: float, workdir: Path) -> dict[str, object]:
    """One command in a fresh interpreter: its exit code and time, and what is wrong with
    its output (a traceback, control characters, markup or an emoji code applied)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "120", "TERM": "dumb"}
    start = time.monotonic()
    try:
        done = subprocess.run([PY, "-m", "scrapeguard", *args], capture_output=True,
                              timeout=timeout, env=env, cwd=str(workdir))
    except subprocess.TimeoutExpired:
        return {"rc": "hang", "s": timeout}
    out = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
    res: dict[str, object] = {"rc": done.returncode, "s": round(time.monotonic() - start, 1)}
    if "Traceback" in out:
        res["tb"] = out[out.index("Traceback"):][-2500:]
    bad = BAD_OUT.search(out)
    if bad:
        res["control"] = repr(out[max(0, bad.start() - 80): bad.end() + 40])
    for m in re.finditer(MARK, out):
        ctx = out[max(0, m.start() - 40): m.end()]
        if not any(k in ctx for k in ("[bold]", "[/]", "[link=", ":smile:", "[red]")):
            res["markup"] = repr(out[max(0, m.start() - 60): m.end() + 20])
            break
    if "\U0001f604" in out:
        res["markup"] = "emoji code rendered"
    if done.returncode not in (0,):
        res["err"] = out[-600:]
    return res


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--per", type=int, default=1, help="mutants per (format, class)")
    p.add_argument("--formats", nargs="*", default=FORMATS)
    p.add_argument("--classes", nargs="*")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--html", action="store_true", help="analyze also writes the HTML report")
    p.add_argument("--commands", nargs="*", default=["analyze", "routes", "watch"])
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    r = random.Random(args.seed)
    classes = args.classes or [*VALUES, "json-types", *line_mutators(r), *FILE_CLASSES,
                               "crlf-file"]
    results = (args.out / "results.jsonl").open("a")
    count = 0
    by_class: dict[str, list[int]] = {}
    for cls in classes:
        for fmt in args.formats:
            if cls == "json-types" and fmt not in JSON_FORMATS:
                continue
            if cls.startswith("xff") and fmt != "nginx-custom":
                continue
            for k in range(args.per):
                name = f"{fmt}.{cls}.{k}"
                if cls in FILE_CLASSES:
                    data = make_file_mutant(fmt, cls, r)
                else:
                    data = make_mutant(fmt, cls, r)[0]
                gz = cls.startswith("gzip")
                path = args.out / (name + (".log.gz" if gz else ".log"))
                path.write_bytes(data)
                fargs = FORMAT_ARGS.get(fmt, ["--format", fmt])
                policy = (["--policy", str(args.out / "proxies.yaml")]
                          if fmt == "nginx-custom" else [])
                if policy:
                    (args.out / "proxies.yaml").write_text(
                        "extends: default\ntrusted_proxies: ['127.0.0.0/8', '203.0.113.0/24']\n")
                row: dict[str, object] = {"mutant": name, "bytes": len(data)}
                if "analyze" in args.commands:
                    row["analyze"] = run_cmd(
                        ["analyze", str(path), *fargs, *policy, "--max-malformed", "100%",
                         "--decisions", str(args.out / "d.jsonl"),
                         "--report-json", str(args.out / "r.json"), "--top", "50",
                         *(["--report", str(args.out / "r.html")] if args.html else [])],
                        args.timeout, args.out)
                if "routes" in args.commands and fmt not in FORMAT_ARGS:
                    row["routes"] = run_cmd(["routes", str(path), *fargs,
                                             "--max-malformed", "100%"], args.timeout, args.out)
                if "watch" in args.commands and not gz:
                    state = args.out / "watch.state"
                    state.unlink(missing_ok=True)
                    row["watch"] = run_cmd(["watch", str(path), *fargs, *policy, "--once",
                                            "--state", str(state), "--decisions",
                                            str(args.out / "w.jsonl")], args.timeout,
                                           args.out)
                if args.html and (args.out / "r.html").exists():
                    page = (args.out / "r.html").read_text(encoding="utf-8", errors="replace")
                    if BAD_OUT.search(page):
                        row["html"] = {"rc": 0, "control": "control character in the HTML"}
                    (args.out / "r.html").unlink()
                count += 1
                problems = {c: v for c, v in row.items() if isinstance(v, dict) and (
                    v.get("tb") or v.get("rc") not in (0,) or v.get("control")
                    or v.get("markup"))}
                flag = "PROBLEM " + ",".join(problems) if problems else "ok"
                print(f"{count} {name} {flag}", flush=True)
                results.write(json.dumps(row) + "\n")
                results.flush()
                if not problems:
                    path.unlink()
                tally = by_class.setdefault(cls, [0, 0])
                tally[0] += 1
                tally[1] += bool(problems)
    print(json.dumps({"mutants": count, "runs": runs(args.out / "results.jsonl"),
                      "problems_by_class": {c: n for c, (_, n) in by_class.items() if n},
                      "mutants_by_class": {c: m for c, (m, _) in by_class.items()}}))
    return 0


def runs(results: Path) -> int:
    """Command runs recorded in a results file (a mutant is run by up to three commands)."""
    with results.open() as handle:
        return sum(sum(isinstance(v, dict) for v in json.loads(line).values())
                   for line in handle)


if __name__ == "__main__":
    sys.exit(main())
