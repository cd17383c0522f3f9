"""The value spaces canaries are drawn from: phone-number ranges and the site's id space.

Phone numbers come only from ranges the operator names, because a made-up number in live use
belongs to someone, and that person would then get the harvester's calls. Nobody publishes an
offline list of unassigned numbers, so the tool cannot pick safe ones by itself: use numbers
you hold (a block from your carrier, your own virtual numbers) or ranges your regulator
reserves and you know to be unassigned. The layout of the range as written (`+86 170 0000
0000`) is the layout canaries are served in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scrapeguard.canary.keys import CanaryError

COUNTRY_CODES = {
    "zh_CN": "86", "zh_TW": "886", "en_US": "1", "en_CA": "1", "en_GB": "44", "en_AU": "61",
    "en_IN": "91", "hi_IN": "91", "de_DE": "49", "fr_FR": "33", "es_ES": "34", "it_IT": "39",
    "ja_JP": "81", "ko_KR": "82", "pt_BR": "55", "ru_RU": "7", "id_ID": "62", "vi_VN": "84",
    "th_TH": "66", "tr_TR": "90", "nl_NL": "31", "pl_PL": "48",
}
"""Calling codes for locales, used when a range is written without `+<code>`."""

_CC = re.compile(r"^\+(\d{1,3})(?=[\s\-.()/]|$)")


@dataclass(frozen=True)
class PhoneRange:
    """An inclusive block of national numbers under one calling code, with its display layout."""

    cc: str
    low: int
    high: int
    width: int
    layout: str
    """The lower bound as written, its national digits replaced by `#`."""

    @property
    def size(self) -> int:
        return self.high - self.low + 1

    def format(self, nsn: int) -> str:
        """The number laid out like the range was written."""
        digits = iter(f"{nsn:0{self.width}d}")
        return "".join(next(digits) if ch == "#" else ch for ch in self.layout)

    @classmethod
    def parse(cls, spec: str, locale: str = "") -> PhoneRange:
        """`+86 170 0000 0000-+86 170 0099 9999` (any dash between the two numbers splits)."""
        for at in (i for i, ch in enumerate(spec) if ch == "-"):
            try:
                low, high = _number(spec[:at], locale), _number(spec[at + 1:], locale)
            except CanaryError:
                continue
            if (low[0], len(low[1])) == (high[0], len(high[1])) and int(low[1]) <= int(high[1]):
                return cls(cc=low[0], low=int(low[1]), high=int(high[1]), width=len(low[1]),
                           layout=low[2])
        raise CanaryError(
            f"phone range {spec!r}: expected two numbers of the same length and calling code, "
            "low-high, e.g. '+86 170 0000 0000-+86 170 0099 9999'")


def _number(text: str, locale: str) -> tuple[str, str, str]:
    """(calling code, national digits, layout with `#` for national digits) of one bound."""
    text = text.strip()
    if not text or re.search(r"[^\d\s\-.()/+]", text):
        raise CanaryError(f"not a phone number: {text!r}")
    match = _CC.match(text)
    if match:
        cc, start = match.group(1), match.end()
    elif text.startswith("+"):
        cc = COUNTRY_CODES.get(locale, "")
        if not cc or not text[1:].startswith(cc):
            raise CanaryError(f"{text!r}: write the calling code apart, e.g. '+86 170 0000 0000'")
        start = 1 + len(cc)
    else:
        cc, start = COUNTRY_CODES.get(locale, ""), 0
        if text.startswith("0"):  # a national trunk prefix stays in the layout, not the number
            start = 1
    national = re.sub(r"\D", "", text[start:])
    if not 4 <= len(national) <= 14:
        raise CanaryError(f"not a phone number: {text!r}")
    layout = text[:start] + re.sub(r"\d", "#", text[start:])
    return cc, national, layout


@dataclass(frozen=True)
class IdSpace:
    """Where canary ids live: an integer range, written through a format such as `u{n}`."""

    low: int
    high: int
    format: str = "{n}"

    @property
    def size(self) -> int:
        return self.high - self.low + 1

    def render(self, n: int) -> str:
        return self.format.format(n=n)

    @classmethod
    def parse(cls, spec: str, fmt: str = "{n}") -> IdSpace:
        """`900000000-999999999`, optionally with a format that must contain `{n}`."""
        match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", spec)
        if not match or int(match.group(1)) > int(match.group(2)):
            raise CanaryError(f"id range {spec!r}: expected low-high, e.g. 900000000-999999999")
        try:
            fmt.format(n=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise CanaryError(
                f"id format {fmt!r}: {exc}; use e.g. 'u{{n}}' or '{{n:09d}}'") from None
        if "{n" not in fmt:
            raise CanaryError(f"id format {fmt!r} must contain {{n}}")
        return cls(int(match.group(1)), int(match.group(2)), fmt)
