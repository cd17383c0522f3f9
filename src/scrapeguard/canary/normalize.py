"""Turning any text a dump holds into the normalized values canaries are matched by.

A harvester reformats what it took: phone numbers lose or gain spaces, dashes, parentheses and
the country code, ids get prefixes (`uid:`, `/user/`), text is re-cased and re-spaced, and a
file may hold it all in one free-text line. So candidates are cut generously out of every field
(several windows over the tokens) and reduced to what no formatting changes: phone digit
strings, id tokens and digit runs, case- and space-folded names, and a hash of the review text
with only its letters and digits kept. Name transliteration (王秀英 → Wang Xiuying) is not
attempted: names only corroborate a match, they never make one.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

from scrapeguard.canary.fields import Joined

MAX_PHONE_TOKENS = 6
"""A phone number is written in at most this many space-separated groups."""
MAX_NAME_TOKENS = 3
MAX_COMMENT_SENTENCES = 4
MIN_RUN = 6
"""Digit runs shorter than this are not looked up as ids: short numbers are everywhere."""

_PHONE = re.compile(r"[+(]?\d[\d \t\u00a0\-.()/]*\d")
_TOKEN = re.compile(r"[^\s,;|\"'<>{}\[\]=&?]+")
_RUN = re.compile(r"\d+")
_NON_WORD = re.compile(r"[\W_]+")
_SENTENCE = re.compile("[.!?:;|\"\t\n\u3002\uff01\uff1f]+")
"""Sentence ends (the CJK full stop and full-width ! and ? included), and the marks that set
a quoted text apart from what precedes it on a line (`said: ...`, `| ...`)."""


def nfkc(text: str) -> str:
    """Compatibility-normalized text: full-width digits and letters become ASCII ones."""
    return unicodedata.normalize("NFKC", text)


def fold(text: str) -> str:
    """Letters and digits only, case-folded: what survives re-casing, spacing, punctuation."""
    return _NON_WORD.sub("", nfkc(text).casefold())


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=10).hexdigest()


def comment_pieces(text: str) -> list[str]:
    """The folded sentences of a text, empty ones dropped."""
    return [piece for piece in (fold(p) for p in _SENTENCE.split(nfkc(text))) if piece]


def comment_key(text: str) -> str:
    """The hash a review text is matched by: its folded sentences, joined."""
    return _hash("".join(comment_pieces(text)))


def phone_strings(text: str) -> set[str]:
    """Digit strings of everything in the text that could be a phone number.

    Each number-like stretch is tried whole and as every run of up to `MAX_PHONE_TOKENS`
    space-separated groups, so a phone next to another number in free text is still found.
    """
    found: set[str] = set()
    for match in _PHONE.finditer(text):
        tokens = match.group().split()
        for start in range(len(tokens)):
            for end in range(start + 1, min(start + MAX_PHONE_TOKENS, len(tokens)) + 1):
                digits = re.sub(r"\D", "", "".join(tokens[start:end]))
                if 6 <= len(digits) <= 20:
                    found.add(digits)
    return found


@dataclass
class Candidates:
    """Normalized values cut from a dump (or part of one), ready to look up in a `CanaryIndex`."""

    phones: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    runs: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    comments: set[str] = field(default_factory=set)

    def add(self, text: str) -> None:
        """Add every candidate in one field (a cell, a JSON string, a line of text); of a
        `Joined` row, only the phone numbers."""
        joined = isinstance(text, Joined)
        text = nfkc(text).strip()
        if not text:
            return
        self.phones |= phone_strings(text)
        if joined:
            return
        words = [fold(word) for word in text.split()]
        for token in _TOKEN.findall(text):
            token = token.strip(".:#/").casefold()
            if token:
                self.tokens.add(token)
                self.runs.update(r for r in _RUN.findall(token) if len(r) >= MIN_RUN)
        if len(words) <= 8:
            self.names.add("".join(words))
        for start in range(len(words)):
            for end in range(start + 1, min(start + MAX_NAME_TOKENS, len(words)) + 1):
                self.names.add("".join(words[start:end]))
        self._add_comment(text)

    def _add_comment(self, text: str) -> None:
        pieces = comment_pieces(text)
        for start in range(len(pieces)):
            joined = ""
            for end in range(start, min(start + MAX_COMMENT_SENTENCES, len(pieces))):
                joined += pieces[end]
                self.comments.add(_hash(joined))

    def update(self, other: Candidates) -> None:
        self.phones |= other.phones
        self.tokens |= other.tokens
        self.runs |= other.runs
        self.names |= other.names
        self.comments |= other.comments

    def __len__(self) -> int:
        return (len(self.phones) + len(self.tokens) + len(self.runs) + len(self.names)
                + len(self.comments))

    def clear(self) -> None:
        for values in (self.phones, self.tokens, self.runs, self.names, self.comments):
            values.clear()
