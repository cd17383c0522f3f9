"""Shared by the service tests (holds no tests): the shipped nginx config on free ports, a
`scrapeguard serve` process, and the demo site as a plain upstream that reports subjects.

The nginx config under test is examples/nginx/ itself, with only its addresses, ports and
file paths rewritten, so a broken example fails here.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from test_middleware_servers import free_port, serve
from test_middleware_support import _asset, _exists, _page

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples" / "nginx"
SUBJECT_KEY = b"the site's own subject key"
ADMIN_TOKEN = "test-admin-token"
POLICY = """\
version: 1
extends: default
routes:
  - {name: profile, path: "/user/{id}", subject: id, fields: [name, phone]}
traps: ["/trap-*"]
"""


def subject_hash(n: int) -> str:
    """How the demo upstream names a person to scrapeguard: a keyed hash, never the id."""
    return hmac.new(SUBJECT_KEY, str(n).encode(), hashlib.sha256).hexdigest()[:24]


async def _profile(request: Request) -> Response:
    """A declared route (`/user/{id}`): the path names the person, so no header is needed,
    and the ids' sequence stays visible to the rules (a keyed hash would hide it)."""
    n = request.path_params["n"]
    if not _exists(n):
        return JSONResponse({"error": "no such person"}, status_code=404)
    return JSONResponse({"id": n, "name": f"Person {n}", "phone": f"+1555{n:07d}"})


async def _api_person(request: Request) -> Response:
    """An API by opaque handle: only the upstream knows whose record it served, and says so
    in X-Subjects as a keyed hash (a miss as `-`)."""
    n = request.path_params["n"]
    if not _exists(n):
        return JSONResponse({"error": "no such person"}, status_code=404,
                            headers={"X-Subjects": "-"})
    return JSONResponse({"id": n, "name": f"Person {n}", "phone": f"+1555{n:07d}"},
                        headers={"X-Subjects": subject_hash(n),
                                 "X-Subject-Fields": "name,phone"})


def demo_upstream() -> Starlette:
    """The middleware tests' demo shop without the middleware: nginx guards it here."""
    return Starlette(routes=[
        Route("/", _page), Route("/about", _page), Route("/product/{n:int}", _page),
        Route("/static/{name}", _asset), Route("/user/{n:int}", _profile),
        Route("/api/people/{n:int}", _api_person),
        Route("/trap-{rest}", _page),
    ])


def nginx_bin() -> str:
    found = os.environ.get("NGINX_BIN") or shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        if os.environ.get("CI"):
            pytest.fail("no nginx binary: .ci/run must install it (need_nginx)")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    return found


def render(text: str, dirs: Path, ports: dict[str, int]) -> str:
    """An example file with its addresses and paths pointed at this test's."""
    return (text
            .replace("/etc/nginx/scrapeguard/", f"{dirs}/")
            .replace("include /etc/nginx/mime.types;", "")
            .replace("/var/log/nginx/", f"{dirs}/logs/")
            .replace("pid /run/nginx.pid;", f"pid {dirs}/nginx.pid;")
            .replace("worker_processes auto;", "worker_processes 1;")
            .replace("listen 80;", f"listen 127.0.0.1:{ports['nginx']};")
            .replace("127.0.0.1:7480", f"127.0.0.1:{ports['service']}")
            .replace("127.0.0.1:7481", f"127.0.0.1:{ports['udp']}")
            .replace("127.0.0.1:8000", f"127.0.0.1:{ports['upstream']}"))


@contextlib.contextmanager
def nginx(base: Path, ports: dict[str, int], fail: str = "open",
          auth: bool = True) -> Iterator[str]:
    """Real nginx running examples/nginx/nginx.conf on `ports['nginx']`; yields its URL.

    `fail` picks the fail-open or fail-closed include; `auth=False` serves the same upstream
    without auth_request (the benchmark's baseline)."""
    binary = nginx_bin()
    base.mkdir(parents=True, exist_ok=True)
    for sub in ("logs", "tmp"):
        (base / sub).mkdir(exist_ok=True)
        (base / sub).chmod(0o777)
    for name in ("scrapeguard-http.conf", "scrapeguard-locations.conf",
                 "scrapeguard-fail-open.conf", "scrapeguard-fail-closed.conf"):
        (base / name).write_text(render((EXAMPLES / name).read_text(), base, ports))
    conf = render((EXAMPLES / "nginx.conf").read_text(), base, ports)
    conf = conf.replace("scrapeguard-fail-open.conf", f"scrapeguard-fail-{fail}.conf")
    temp = "".join(f"    {kind}_temp_path {base}/tmp/{kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = conf.replace("http {\n", "http {\n" + temp, 1)
    if not auth:
        conf = conf.replace("            auth_request /_scrapeguard;\n", "")
    (base / "nginx.conf").write_text(conf)
    process = subprocess.Popen(
        [binary, "-p", str(base), "-c", str(base / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{ports['nginx']}"
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                raise AssertionError("nginx stopped: " + (process.stderr.read().decode()
                                                          if process.stderr else ""))
            with contextlib.suppress(OSError):
                import socket
                with socket.create_connection(("127.0.0.1", ports["nginx"]), timeout=0.2):
                    break
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
        yield url
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


class ServiceProcess:
    """`scrapeguard serve` in a process of its own, which a test can stop and start again."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env = env
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        full = {**os.environ, **self.env,
                "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path])}
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from scrapeguard.cli import app; app()", "serve",
             "--port", str(self.port)],
            env=full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise AssertionError("serve stopped: " + (
                    self.process.stderr.read().decode() if self.process.stderr else ""))
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None


def free_ports(*names: str) -> dict[str, int]:
    return {name: free_port() for name in names}


@contextlib.contextmanager
def serve_app(app: ASGIApp) -> Iterator[str]:
    """The service app under uvicorn in a thread, lifespan on (the syslog listener starts and
    the engine closes as in `scrapeguard serve`); yields its URL."""
    with serve(app, warm=False, lifespan="on") as url:
        yield url
