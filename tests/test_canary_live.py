"""Live: a harvester crawls the shop through the middleware on loopback, saves what it took
as CSV, and `scrapeguard trace` names its account from that file alone.

The shop runs under uvicorn on 127.0.0.1 with the real `ScrapeGuardMiddleware` and canaries
in its review lists; its policy decoys an account after 30 requests an hour. The harvester is
a separate Python process using only urllib, logged in as `harvester7`.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import httpx
from typer.testing import CliRunner

from test_canary_support import guarded_shop, new_book, serve

HARVESTER_SCRIPT = r'''
import csv, json, sys, urllib.request

url, out, pages = sys.argv[1], sys.argv[2], int(sys.argv[3])
def get(path):
    request = urllib.request.Request(url + path, headers={"x-account": "harvester7",
                                                          "user-agent": "Mozilla/5.0"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)

people = {}
for page in range(1, pages + 1):
    for record in get(f"/api/reviews?page={page}")["results"]:
        people[record["id"]] = record
for uid in list(people)[:40]:  # open a few profiles, as a thorough crawler does
    people[uid].update(get(f"/user/{uid}"))
with open(out, "w", newline="", encoding="utf-8-sig") as handle:
    writer = csv.writer(handle, delimiter=";")
    writer.writerow(["user", "nickname", "mobile", "content"])
    for record in people.values():
        digits = "".join(ch for ch in record["phone"] if ch.isdigit())
        writer.writerow(["UID" + record["id"], record["name"], "0086-" + digits[2:],
                         record["comment"]])
print(len(people))
'''


def test_a_live_harvest_is_traced_to_its_account(tmp_path: Path) -> None:
    from scrapeguard import cli_canary

    book = new_book(tmp_path, key=None)  # as `canary mint` makes it: the key in the db
    app = guarded_shop(book)
    out = tmp_path / "harvest.csv"
    with serve(app) as url:
        with httpx.Client(base_url=url, headers={"x-account": "alice"}) as alice:
            for page in (1, 2, 3, 8, 9):
                assert alice.get(f"/api/reviews?page={page}").status_code == 200
        done = subprocess.run([sys.executable, "-c", HARVESTER_SCRIPT, url, str(out), "60"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    app.close()
    book.close()
    with out.open(encoding="utf-8-sig") as handle:
        saved = list(csv.DictReader(handle, delimiter=";"))
    assert int(done.stdout) == len(saved) > 900
    # One canary a page, more once the decoy rule fires; when it fires depends on how far the
    # engine's recording (after each response) trails a fast crawler, so only the least is
    # checked here (test_canary_inject checks the decoy itself, deterministically).
    assert sum(row["user"].startswith("UID9") for row in saved) >= 30

    result = CliRunner().invoke(cli_canary.app, [
        "trace", str(out), "--canaries", str(tmp_path / "canaries.db"), "--json", "-"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    (named,) = report["named"]
    assert named["actor"] == "account:harvester7"
    assert named["p_corrected"] < 1e-6
    assert named["first_served"] < named["last_served"]
    assert report["actors_considered"] == 2  # alice and harvester7
    assert report["dumps"][0]["rows"] == len(saved) + 1
