"""The challenge page: a short HTML document whose inline script does the proof of work.

The script uses SubtleCrypto's SHA-256, which browsers offer only in secure contexts (HTTPS,
or http://localhost); elsewhere the page says so instead of spinning. The page posts the nonce
to `PASS_PATH` as an ordinary form, so it works with any framework behind the middleware and
the browser follows the redirect back to the page it asked for.
"""

from __future__ import annotations

import html
import json
from string import Template

PASS_PATH = "/.scrapeguard/pass"
"""Where solutions are posted; the middleware answers it before the app sees anything."""

_PAGE = Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>One moment</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32em;margin:15vh auto;padding:0 1em}
</style></head><body>
<h1>Checking your browser</h1>
<p id="status">This takes a few seconds and happens once.</p>
<noscript><p>Please enable JavaScript to continue.</p></noscript>
<form id="pass" method="post" action="$action">
<input type="hidden" name="seed" value="$seed_attr">
<input type="hidden" name="next" value="$next_attr">
<input type="hidden" name="nonce" value="">
</form>
<script>
(async () => {
  const seed = $seed_js, bits = $bits, form = document.getElementById("pass");
  const status = document.getElementById("status");
  if (!(window.crypto && crypto.subtle)) {
    status.textContent = "Your browser cannot run the check here; please use HTTPS.";
    return;
  }
  const enc = new TextEncoder();
  for (let n = 0; ; n++) {
    const d = new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(seed + ":" + n)));
    let zeros = 0;
    for (const b of d) {
      if (b === 0) { zeros += 8; continue; }
      zeros += Math.clz32(b) - 24;
      break;
    }
    if (zeros >= bits) { form.nonce.value = String(n); form.submit(); return; }
  }
})();
</script>
</body></html>
""")


MAX_NEXT = 2048
"""Longer `next` targets are not paths a challenged page asked for."""


def safe_next(target: str | None) -> str:
    r"""A same-origin path to return to; anything that could leave the site becomes `/`.

    Browsers parse a `Location` by the URL standard, which drops tabs and newlines anywhere
    and reads a backslash as a slash: `/\t/evil.example` and `/\evil.example` are
    `//evil.example` to them, another host. So only printable ASCII without a backslash is
    kept (a request path arrives percent-encoded, so a real one loses nothing), and then it
    must be a path that does not start `//`.
    """
    if not target or len(target) > MAX_NEXT:
        return "/"
    if any(not "!" <= c <= "~" or c == "\\" for c in target):
        return "/"
    if not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def challenge_page(seed: str, bits: int, next_path: str) -> bytes:
    """The page for one seed; `next_path` is where the browser goes once it has its pass."""
    target = safe_next(next_path)
    return _PAGE.substitute(
        action=PASS_PATH,
        seed_attr=html.escape(seed),
        next_attr=html.escape(target),
        seed_js=json.dumps(seed).replace("<", "\\u003c"),
        bits=int(bits),
    ).encode()
