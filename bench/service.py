"""What `scrapeguard serve` behind nginx `auth_request` costs nginx, measured with wrk.

```
python bench/service.py                       # 10 s per run, fixed rate 400 req/s
python bench/service.py --seconds 20 --rate 800 --json bench/out/service.json
python bench/service.py --no-events           # decisions only, no event recording
```

Two nginx processes run examples/nginx/nginx.conf (fail-open) in the same run, in front of
the same static upstream (a third nginx serving one small file for every path): one with
`auth_request /_scrapeguard`, one with that line removed, everything else equal (the
syslog log line included: the bare nginx sends it to a socket this script holds and never
reads, so it pays for sending it, and the service counts none of its traffic). The service
runs as `scrapeguard serve` on a real Redis (`REDIS_URL`, else a throwaway redis-server
this script starts).

At the end the service's own counters say what became of the guarded nginx's log lines
at saturation: received, shed by the record lane under the flood, still waiting, and lost
before the service read them (UDP): a service that keeps nginx fast by not counting is no
answer, so the report shows both.

wrk (Debian's 4.1, which has no rate option) runs twice against each: at saturation
(`--connections` connections, no pauses) and at a fixed rate, where each connection pauses
so that all together ask `--rate` requests a second; p99 at the fixed rate is the latency a
visitor sees. Requests are a browsing mix (pages, assets, profiles) from many addresses
(X-Forwarded-For, believed from wrk on 127.0.0.1 as from a load balancer), each sent as
Chrome sends it (its headers, in its order), so no rule fires: this is the price of the path
every request takes. Until 2026-12-07 the mix sent only a Chrome user agent; the header-shape
rules rightly took it for an HTTP library behind a browser's agent and refused more than half
of it, which the figures counted as throughput. The report now says what the service
answered in each run (allowed, refused, answered by either fail mode, rules fired) and warns
when anything was refused. The example config serves /static/
without asking the service (3 of the 7 paths), and the report says so. Targets printed
beside the figures: the service costs nginx at most half its throughput; p99 at the fixed
rate under 5 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "nginx"
SNIPPETS = ("scrapeguard-http.conf", "scrapeguard-locations.conf",
            "scrapeguard-fail-open.conf", "scrapeguard-fail-closed.conf")

PATHS = ("/", "/about", "/product/17", "/static/app.js", "/static/site.css",
         "/static/logo.svg", "/user/%d")
CHROME_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/124.0.0.0 Safari/537.36")
ACCEPT = {  # what Chrome 124 sends for each kind of fetch
    "page": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
            "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    ".js": "*/*", ".css": "text/css,*/*;q=0.1",
    ".svg": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
}
WRK_SCRIPT = """
local paths = {""" + ", ".join(f'"{p}"' for p in PATHS) + """}
local accept = {""" + ", ".join(f'["{k}"] = "{v}"' for k, v in ACCEPT.items()) + """}
local pause = tonumber(os.getenv("BENCH_PAUSE_MS") or "0")
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
-- Chrome's own request over plain HTTP (no client hints or Sec-Fetch-*, which it sends only
-- over TLS), its headers in its order: a mix that merely names Chrome in User-Agent is what
-- an HTTP library behind a browser's agent looks like, and the header-shape rules refuse it.
request = function()
  local path = paths[math.random(#paths)]
  if path:find("%%d") then path = string.format(path, math.random(1, 400000)) end
  local ip = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255),
                           math.random(1, 254))
  local kind = path:match("^/static/.*(%.%a+)$")
  local head = "GET " .. path .. " HTTP/1.1\\r\\nHost: " .. wrk.host .. ":" .. wrk.port ..
    "\\r\\nConnection: keep-alive\\r\\n"
  if kind == nil then head = head .. "Upgrade-Insecure-Requests: 1\\r\\n" end
  return head .. "User-Agent: """ + CHROME_UA + """\\r\\nAccept: " ..
    accept[kind or "page"] .. "\\r\\nAccept-Encoding: gzip, deflate\\r\\n" ..
    "Accept-Language: en-US,en;q=0.9\\r\\nX-Forwarded-For: " .. ip .. "\\r\\n\\r\\n"
end
delay = function() return pause end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "p50_us": %d, "p99_us": %d, ' ..
    '"non_2xx": %d, "socket_errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50),
    latency:percentile(99), errors.status, errors.connect + errors.read + errors.write +
    errors.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise SystemExit(f"{what} stopped: "
                             + (process.stderr.read().decode() if process.stderr else ""))
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start")
        time.sleep(0.05)


@contextlib.contextmanager
def running(command: list[str], port: int, what: str, env: dict[str, str] | None = None,
            stop: int = signal.SIGTERM) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=env)
    try:
        wait_port(port, process, what)
        yield process
    finally:
        process.send_signal(stop)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def render(text: str, base: Path, ports: dict[str, int]) -> str:
    return (text.replace("/etc/nginx/scrapeguard/", f"{base}/")
            .replace("include /etc/nginx/mime.types;", "")
            .replace("/var/log/nginx/", f"{base}/")
            .replace("pid /run/nginx.pid;", f"pid {base}/nginx.pid;")
            .replace("worker_processes auto;", "worker_processes 1;")
            .replace("listen 80;", f"listen 127.0.0.1:{ports['nginx']};")
            .replace("127.0.0.1:7480", f"127.0.0.1:{ports['service']}")
            .replace("127.0.0.1:7481", f"127.0.0.1:{ports['udp']}")
            .replace("127.0.0.1:8000", f"127.0.0.1:{ports['upstream']}"))


def nginx_command(nginx: str, base: Path, conf: str) -> list[str]:
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o777)
    temp = "".join(f"    {kind}_temp_path {base}/{kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (base / "nginx.conf").write_text(conf.replace("http {\n", "http {\n" + temp, 1))
    return [nginx, "-p", str(base), "-c", str(base / "nginx.conf"), "-g", "daemon off;"]


def front(nginx: str, base: Path, ports: dict[str, int], auth: bool) -> list[str]:
    """examples/nginx/nginx.conf on this run's ports; without auth_request when not `auth`."""
    base.mkdir(parents=True, exist_ok=True)
    for name in SNIPPETS:
        (base / name).write_text(render((EXAMPLES / name).read_text(), base, ports))
    conf = render((EXAMPLES / "nginx.conf").read_text(), base, ports)
    if not auth:
        conf = conf.replace("            auth_request /_scrapeguard;\n", "")
    return nginx_command(nginx, base, conf)


def static_upstream(nginx: str, base: Path, port: int) -> list[str]:
    """One small page for every path: the cheapest upstream, so the comparison isolates
    what the decision adds."""
    (base / "www").mkdir(parents=True, exist_ok=True)
    (base / "www" / "index.html").write_text("<html>" + "shop " * 200 + "</html>\n")
    conf = f"""worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    server {{
        listen 127.0.0.1:{port};
        root {base}/www;
        location / {{ try_files /index.html =404; }}
    }}
}}
"""
    return nginx_command(nginx, base, conf)


@contextlib.contextmanager
def redis_url() -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("no Redis: set REDIS_URL or install redis-server")
    port = free_port()
    with tempfile.TemporaryDirectory() as directory, running(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no", "--dir", directory], port, "redis-server"):
        yield f"redis://127.0.0.1:{port}/0"


def service_counters(port: int) -> dict[str, float]:
    """The service's counters from its /metrics: the record lane's lines, and the decisions
    it answered (`allow`, `refused`, `degraded`: answered by the fail mode) and its rules
    newly made (`fired`)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    out: dict[str, float] = {"allow": 0.0, "refused": 0.0, "degraded": 0.0, "fired": 0.0}
    for line in text.decode().splitlines():
        name, _, value = line.rpartition(" ")
        if name == 'scrapeguard_events_total{outcome="queued",source="syslog"}':
            out["received"] = float(value)
        elif name == "scrapeguard_record_shed":
            out["shed"] = float(value)
        elif name == "scrapeguard_record_backlog":
            out["backlog"] = float(value)
        elif name.startswith("scrapeguard_decide_total{"):
            out["allow" if 'action="allow"' in name else "refused"] += float(value)
            if 'degraded="true"' in name:
                out["degraded"] += float(value)
        elif name.startswith("scrapeguard_decisions_fired_total{"):
            out["fired"] += float(value)
    return out


def cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time (user + system) of the service's processes so far, from /proc: `decide`,
    the HTTP process, and `record`, its children (the record lane). Empty where /proc is
    not Linux's."""
    def own(process: int) -> float:
        fields = Path(f"/proc/{process}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return {"decide": own(pid), "record": sum(own(int(child)) for child in children)}
    except (OSError, ValueError, IndexError):
        return {}


def fail_open(error_log: Path) -> int:
    """Requests nginx served by the fail mode so far: the decision subrequest failed or
    timed out (`auth request unexpected status`), so the service decided nothing."""
    if not error_log.exists():
        return 0
    with error_log.open(errors="replace") as lines:
        return sum("auth request unexpected status" in line for line in lines)


def wrk(url: str, script: Path, seconds: int, connections: int, pause_ms: int) -> dict[str, float]:
    env = {**os.environ, "BENCH_PAUSE_MS": str(pause_ms)}
    threads = min(2, connections)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
                          "-s", str(script), url], capture_output=True, text=True, env=env,
                         check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result: dict[str, float] = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="per wrk run")
    parser.add_argument("--rate", type=int, default=400, help="requests/s of the fixed-rate run")
    parser.add_argument("--connections", type=int, default=32, help="at saturation")
    parser.add_argument("--no-events", action="store_true",
                        help="the service ignores nginx's log lines: the decision path alone")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists() or not shutil.which("wrk"):
        raise SystemExit("needs nginx and wrk (apt-get install nginx wrk)")
    fixed_connections = 8
    pause_ms = max(1, round(fixed_connections * 1000 / args.rate))
    ports = {"service": free_port(), "udp": free_port(), "upstream": free_port()}
    with tempfile.TemporaryDirectory(prefix="sg-bench-") as tmp, redis_url() as redis:
        base = Path(tmp)
        base.chmod(0o755)
        script = base / "mix.lua"
        script.write_text(WRK_SCRIPT)
        env = {**os.environ, "SCRAPEGUARD_STORE": redis,
               "SCRAPEGUARD_EVENTS_UDP": "" if args.no_events else f"127.0.0.1:{ports['udp']}",
               # a secret of this run's own: the store's keys are keyed hashes, so nothing
               # an earlier run left in the same Redis (counts, decisions) applies to this one
               "SCRAPEGUARD_SECRET": f"benchmark secret {os.getpid()} {time.time()}",
               "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path])}
        guarded = {**ports, "nginx": free_port()}
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 0))
        bare = {**ports, "nginx": free_port(), "udp": sink.getsockname()[1]}
        quit_nginx = signal.SIGQUIT
        with running(static_upstream(nginx, base / "upstream", ports["upstream"]),
                     ports["upstream"], "upstream nginx", stop=quit_nginx), \
                running([sys.executable, "-c", "from scrapeguard.cli import app; app()",
                         "serve", "--port", str(ports["service"])], ports["service"],
                        "scrapeguard serve", env=env) as service, \
                running(front(nginx, base / "guarded", guarded, auth=True), guarded["nginx"],
                        "guarded nginx", stop=quit_nginx), \
                running(front(nginx, base / "bare", bare, auth=False), bare["nginx"],
                        "bare nginx", stop=quit_nginx):
            urls = {"bare": f"http://127.0.0.1:{bare['nginx']}",
                    "auth_request": f"http://127.0.0.1:{guarded['nginx']}"}
            wrk(urls["auth_request"], script, 2, 4, 0)  # warm the service's first use
            time.sleep(2)  # let the warm-up's lines be counted
            errors = base / "guarded" / "error.log"
            figures: dict[str, dict[str, dict[str, float]]] = {}
            for mode, connections, pause in (("saturation", args.connections, 0),
                                             ("fixed", fixed_connections, pause_ms)):
                for name in ("bare", "auth_request"):  # same run, one after the other
                    before = service_counters(ports["service"])
                    failed = fail_open(errors)
                    cpu = cpu_seconds(service.pid)
                    result = figures.setdefault(mode, {})[name] = wrk(
                        urls[name], script, args.seconds, connections, pause)
                    if name != "auth_request":
                        continue
                    after = service_counters(ports["service"])
                    for key in ("allow", "refused", "degraded", "fired"):
                        result[key] = after[key] - before[key]
                    result["fail_open"] = fail_open(errors) - failed
                    for key, seconds in cpu_seconds(service.pid).items():
                        result[f"cpu_{key}"] = seconds - cpu.get(key, 0.0)
                    if mode == "saturation":
                        figures[mode]["lines"] = {
                            key: after.get(key, 0) - (before.get(key, 0) if key != "backlog"
                                                      else 0)
                            for key in ("received", "shed", "backlog")}
        sink.close()
    report(figures, args.rate)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def report(figures: dict[str, dict[str, dict[str, float]]], rate: int) -> None:
    print(f"{'run':<12}{'nginx':<14}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'non-2xx':>9}{'sock err':>9}")
    for mode, runs in figures.items():
        for name, r in runs.items():
            if name == "lines":
                continue
            print(f"{mode:<12}{name:<14}{r['rps']:>10.0f}{r['p50_us'] / 1000:>9.2f}"
                  f"{r['p99_us'] / 1000:>9.2f}{r['non_2xx']:>9.0f}{r['socket_errors']:>9.0f}")
    ratio = figures["saturation"]["auth_request"]["rps"] / figures["saturation"]["bare"]["rps"]
    p99 = figures["fixed"]["auth_request"]["p99_us"] / 1000
    if "location /static/ {" in (EXAMPLES / "nginx.conf").read_text():
        assets = sum(p.startswith("/static/") for p in PATHS)
        print(f"\nmix: {assets} of {len(PATHS)} paths are /static/ assets, which "
              "examples/nginx/nginx.conf serves without auth_request (still logged and "
              "counted); the other requests each ask the service")
    lines = figures["saturation"].get("lines")
    if lines is not None:
        served = figures["saturation"]["auth_request"]["requests"]
        print(f"\nlog lines of the guarded nginx at saturation: {served:.0f} requests served, "
              f"{lines['received']:.0f} lines received by the service "
              f"({max(served - lines['received'], 0):.0f} lost before it read them), "
              f"{lines['shed']:.0f} shed by the record lane, {lines['backlog']:.0f} waiting "
              "at the end of the run")
    for mode, runs in figures.items():
        r = runs["auth_request"]
        print(f"{mode} with auth_request: the service answered {r['allow']:.0f} allow and "
              f"{r['refused']:.0f} refused, {r['degraded']:.0f} of them by its fail mode; nginx "
              f"answered {r['fail_open']:.0f} by its fail mode (no decision in time); "
              f"{r['fired']:.0f} rule decisions made")
        if "cpu_decide" in r:
            per = {key: r[f"cpu_{key}"] / r["requests"] * 1e6 for key in ("decide", "record")}
            cores = {key: r[f"cpu_{key}"] / r["seconds"] for key in ("decide", "record")}
            print(f"  CPU per request served: decision process {per['decide']:.0f} µs, record "
                  f"process {per['record']:.0f} µs ({cores['decide']:.2f} and "
                  f"{cores['record']:.2f} of a core)")
    if any(r["non_2xx"] or r.get("refused") or r.get("fired")
           for runs in figures.values() for name, r in runs.items() if name != "lines"):
        print("\nWARNING: the mix was refused or a rule fired: these figures include "
              "refusals, which skip the upstream and the counting; they do not measure the "
              "path every request takes")
    print(f"\nthroughput with auth_request / without: {ratio:.2f} (target >= 0.50) "
          f"{'ok' if ratio >= 0.5 else 'MISSED'}")
    print(f"p99 at the fixed rate (asked {rate}/s) with auth_request: {p99:.2f} ms "
          f"(target < 5 ms) {'ok' if p99 < 5 else 'MISSED'}")


if __name__ == "__main__":
    main()
