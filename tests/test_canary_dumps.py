"""Tracing real files: every dump format a leak arrives in, and input that is not clean.

The dumps are a harvest of the drill's `account:harvester7` (subsampled, shuffled,
reformatted) among ten times as many other people, written as resellers write them.
"""

from __future__ import annotations

import gzip
import json
import random
from functools import cache
from pathlib import Path

import pytest

from scrapeguard.canary import CanaryError, trace
from scrapeguard.canary.drill import HARVESTER
from scrapeguard.canary.dumps import read_fields
from test_canary_support import DUMP_KINDS, SUFFIX, drill, write_dump


@cache
def leaked_rows() -> list[dict[str, str]]:
    return drill().rows(HARVESTER, 1200, random.Random(42))


@pytest.mark.parametrize("kind", DUMP_KINDS)
def test_every_format_names_the_harvester(kind: str, tmp_path: Path) -> None:
    path = write_dump(leaked_rows(), tmp_path / f"leak{SUFFIX[kind]}", kind)
    report = trace(drill().book, [path])
    stats = report.dumps[0]
    assert stats.rows >= 13_200
    assert stats.malformed == 0
    named = [s.actor for s in report.attribution.named]
    assert named == [HARVESTER], report.attribution.reasons
    assert report.found.by_field()["phone"] == len(report.found.strong) >= 8


def test_a_dump_of_other_people_names_no_one(tmp_path: Path) -> None:
    rng = random.Random(1)
    rows = [p.row(rng) for p in drill().pool]
    report = trace(drill().book, [write_dump(rows, tmp_path / "people.csv", "csv-bom-semicolon")])
    assert not report.attribution.named
    assert "no canary" in report.attribution.reasons[0]


def test_two_files_are_one_dump(tmp_path: Path) -> None:
    rows = leaked_rows()
    half = len(rows) // 2
    paths = [write_dump(rows[:half], tmp_path / "a.sql", "sql"),
             write_dump(rows[half:], tmp_path / "b.jsonl", "jsonl")]
    assert [s.actor for s in trace(drill().book, paths).attribution.named] == [HARVESTER]


def test_unparsable_lines_are_counted_and_still_searched(tmp_path: Path) -> None:
    canary = drill().book.canary(0)
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps({"ok": 1}) + "\n{not json: " + canary.phone + "\n", "utf-8")
    stats, fields = read_fields(path)
    assert any(canary.phone in f for f in fields)
    assert (stats.format, stats.rows, stats.malformed) == ("jsonl", 2, 1)
    assert stats.examples == [f"{path}:2: not JSON; read as text"]


def test_an_unterminated_sql_statement_is_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "cut.sql"
    path.write_text("INSERT INTO t VALUES ('a', '+86 170 0000 0001'),\n('b', '+86 170", "utf-8")
    stats, fields = read_fields(path)
    assert "INSERT INTO t VALUES ('a', '+86 170 0000 0001')," in list(fields)
    assert stats.malformed == 1


def test_sql_values_keep_escaped_quotes_and_separators(tmp_path: Path) -> None:
    path = tmp_path / "q.sql"
    path.write_text("INSERT INTO `t` (`a`,`b`) VALUES ('it\\'s; fine','x''y'),(3,NULL);\n"
                    "UPDATE t SET a = 1;\n", "utf-8")
    stats, fields = read_fields(path)
    assert [f for f in fields if not f.startswith("it's; fine ")] == ["it's; fine", "x'y", "3"]
    assert stats.rows == 2


def test_csv_dialects_and_encodings_are_detected(tmp_path: Path) -> None:
    rows = [{"uid": "1", "nick": "王秀英", "mobile": "170 0000 0001", "review": "好;很好"}]
    for kind, encoding in [("csv-bom-semicolon", "utf-8-sig"), ("tsv-utf16", "utf-16"),
                           ("text", "gb18030")]:
        stats, fields = read_fields(write_dump(rows, tmp_path / f"x{SUFFIX[kind]}", kind))
        assert "王秀英" in " ".join(fields)
        assert stats.encoding == encoding


def test_a_compressed_dump_is_opened(tmp_path: Path) -> None:
    path = tmp_path / "x.txt.gz"
    path.write_bytes(gzip.compress(b"tel +86 170 0000 0001\n"))
    stats, fields = read_fields(path)
    assert list(fields) == ["tel +86 170 0000 0001"]
    assert stats.format == "text"


def test_xlsx_is_read_with_openpyxl_or_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "leak.xlsx"
    try:
        import openpyxl  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        path.write_bytes(b"PK\x03\x04")
        with pytest.raises(CanaryError, match="openpyxl"):
            read_fields(path)
        return
    sheet_book = openpyxl.Workbook()
    sheet_book.active.append(["uid", "mobile"])
    sheet_book.active.append(["U1", "+86 170 0000 0001"])
    sheet_book.save(path)
    _, fields = read_fields(path)
    assert "+86 170 0000 0001" in list(fields)


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CanaryError, match="No such file"):
        read_fields(tmp_path / "missing.csv")
    with pytest.raises(CanaryError, match="unknown dump format"):
        read_fields(tmp_path / "missing.csv", "parquet")
