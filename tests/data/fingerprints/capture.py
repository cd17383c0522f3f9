"""Capture what real HTTP clients send: their TLS ClientHello (as JA4) and request headers.

Run from the repository root (needs `openssl`, curl, Chromium and the dev extra):

    CHROMIUM_BIN=/usr/bin/chromium python tests/data/fingerprints/capture.py

It starts one HTTPS server on 127.0.0.1 (a throw-away self-signed certificate for
`localhost`, ALPN `http/1.1` only, so every client speaks HTTP/1.1 as an app behind a TLS
terminator sees it). For each connection it peeks at the ClientHello before the handshake,
computes its JA4 (FoxIO's JA4 specification, the BSD-licensed JA4 part only: protocol,
version, SNI, counts, ALPN; sorted ciphers; sorted extensions and signature algorithms), then
completes the handshake and records the request's header lines exactly as they arrived, in
order. Each client is written to `<name>.json` in `src/scrapeguard/simulate/captures/`,
where the simulator reads the same captures (`scrapeguard.simulate.stacks`).

The fixtures are what the tests run on; this script is how they were made, not part of the
tests (it needs network-free loopback only, but real client binaries and minutes).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE.parents[2] / "src" / "scrapeguard" / "simulate" / "captures"
CHROME_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/131.0.0.0 Safari/537.36")
"""The agent a fleet puts on a non-browser stack (a current Chrome on Windows)."""


def _grease(value: int) -> bool:
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def ja4(hello: bytes) -> str:
    """JA4 of one TLS record holding a ClientHello (TCP: protocol `t`)."""
    body = hello[5:]
    assert body[0] == 1, "not a ClientHello"
    pos = 4
    legacy = struct.unpack_from(">H", body, pos)[0]
    pos += 2 + 32
    pos += 1 + body[pos]  # session id
    (n,) = struct.unpack_from(">H", body, pos)
    ciphers = [struct.unpack_from(">H", body, pos + 2 + i)[0] for i in range(0, n, 2)]
    pos += 2 + n
    pos += 1 + body[pos]  # compression methods
    (total,) = struct.unpack_from(">H", body, pos)
    pos += 2
    end = pos + total
    extensions: list[int] = []
    versions: list[int] = []
    alpn = ""
    sigalgs: list[int] = []
    while pos < end:
        kind, size = struct.unpack_from(">HH", body, pos)
        data = body[pos + 4:pos + 4 + size]
        pos += 4 + size
        extensions.append(kind)
        if kind == 0x002B:  # supported_versions
            versions = [struct.unpack_from(">H", data, 1 + i)[0] for i in range(0, data[0], 2)]
        elif kind == 0x0010 and size > 3:  # ALPN: first protocol
            alpn = data[3:3 + data[2]].decode("latin-1")
        elif kind == 0x000D:  # signature_algorithms, in the order sent
            (count,) = struct.unpack_from(">H", data, 0)
            sigalgs = [struct.unpack_from(">H", data, 2 + i)[0] for i in range(0, count, 2)]
    ciphers = [c for c in ciphers if not _grease(c)]
    extensions = [e for e in extensions if not _grease(e)]
    version = max((v for v in versions if not _grease(v)), default=legacy)
    names = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3"}
    sni = "d" if 0x0000 in extensions else "i"
    first_last = (alpn[0] + alpn[-1]) if alpn and alpn[0].isalnum() and alpn[-1].isalnum() \
        else ("00" if not alpn else alpn.encode().hex()[0] + alpn.encode().hex()[-1])
    part_a = (f"t{names.get(version, '00')}{sni}{min(len(ciphers), 99):02d}"
              f"{min(len(extensions), 99):02d}{first_last}")

    def digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"

    part_b = digest(",".join(sorted(f"{c:04x}" for c in ciphers)))
    listed = ",".join(sorted(f"{e:04x}" for e in extensions if e not in (0x0000, 0x0010)))
    if sigalgs:
        listed += "_" + ",".join(f"{s:04x}" for s in sigalgs)
    return f"{part_a}_{part_b}_{digest(listed)}"


class Capture:
    """An HTTPS server on loopback recording each connection's JA4 and header lines."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.context.set_alpn_protocols(["http/1.1"])
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            hello = b""
            while len(hello) < 5 or len(hello) < 5 + struct.unpack_from(">H", hello, 3)[0]:
                hello = conn.recv(65536, socket.MSG_PEEK)
                time.sleep(0.01)
            fingerprint = ja4(hello)
            tls = self.context.wrap_socket(conn, server_side=True)
            while True:
                raw = b""
                while b"\r\n\r\n" not in raw:
                    chunk = tls.recv(65536)
                    if not chunk:
                        return
                    raw += chunk
                head = raw.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
                headers = [line.split(":", 1) for line in head[1:]]
                self.seen.append({"ja4": fingerprint, "request_line": head[0],
                                  "headers": [[n, v.strip()] for n, v in headers]})
                body = b"<html><body>ok</body></html>"
                if head[0].startswith("GET /page"):
                    body = b'<html><body><img src="/img.png"></body></html>'
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        except (OSError, ssl.SSLError, AssertionError):
            return
        finally:
            conn.close()


def _chromium(url: str) -> dict[str, str]:
    from playwright.sync_api import sync_playwright

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium"), args=args)
        context = browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        page.goto(url + "/page", wait_until="load")
        version = browser.version
        browser.close()
    return {"version": version}


def main() -> None:
    work = Path(tempfile.mkdtemp())
    cert, key = work / "cert.pem", work / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = Capture(cert, key)
    url = f"https://localhost:{server.port}"

    import curl_cffi
    import requests
    import urllib3
    from curl_cffi import requests as cffi

    urllib3.disable_warnings()
    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout
    clients: dict[str, tuple[str, Any]] = {
        "curl": (curl.splitlines()[0] + "; `curl -sk URL`",
                 lambda: subprocess.run(["curl", "-sk", url + "/"], check=True,
                                        capture_output=True)),
        "python-requests": (f"requests {requests.__version__}; `requests.get(URL, verify=False)`",
                            lambda: requests.get(url + "/", verify=False, timeout=10)),
        "python-requests-chrome-ua": (
            f"requests {requests.__version__} with a Chrome user agent: a fleet's disguise",
            lambda: requests.get(url + "/", verify=False, timeout=10,
                                 headers={"User-Agent": CHROME_UA})),
        "curl_cffi-chrome": (
            f"curl_cffi {curl_cffi.__version__}; "
            "`curl_cffi.requests.get(URL, impersonate='chrome', verify=False)`",
            lambda: cffi.get(url + "/", impersonate="chrome", verify=False, timeout=10)),
    }
    out: dict[str, dict[str, Any]] = {}
    for name, (how, run) in clients.items():
        before = len(server.seen)
        run()
        time.sleep(0.3)
        out[name] = {"client": name, "how": how, "requests": server.seen[before:]}
    before = len(server.seen)
    info = _chromium(url)
    time.sleep(0.3)
    out["chromium"] = {"client": "chromium",
                       "how": f"Chromium {info['version']} headless via Playwright, "
                              "`page.goto(URL + '/page')`, which loads one image",
                       "requests": server.seen[before:]}
    for name, record in out.items():
        record["captured"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        record["server"] = ("tests/data/fingerprints/capture.py: HTTPS on 127.0.0.1, "
                            "ALPN http/1.1, host localhost")
        (OUT / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
        print(name, [(r["ja4"], r["request_line"]) for r in record["requests"]], file=sys.stderr)


if __name__ == "__main__":
    main()
