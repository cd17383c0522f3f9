"""User-agent classes, read from packaged data rather than a hand-kept list.

A user agent is put in one class: `empty`, a crawler class taken from the tags of the first
crawler-user-agents pattern it matches (`search-engine`, `scanner`, `http-library`, …),
`crawler` for ua-parser's `Spider` devices the bot list misses, `browser` when ua-parser knows
the browser family, else `unknown`. Both packages are refreshed upstream as new clients appear,
which a list kept in this repository never would be.

Both packages are lists of regular expressions tried in order; tried one by one, they manage
a few thousand user agents a second, and a big log holds 100k distinct ones. So each list is
wrapped in a `_FirstMatch` index: the literal text every pattern requires is indexed by one
trigram, and only the patterns whose trigram occurs in the user agent (plus the few with no
usable literal) are tried, in their original order, so the first match is the same one the
packages would find.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

import crawleruseragents
import ua_parser
from ua_parser.core import Device, Matcher, UserAgent

from scrapeguard import pathfacts
from scrapeguard.policy.patterns import Matcher as PatternMatcher
from scrapeguard.policy.patterns import compile_pattern

GRAM = 3
"""Length of the index keys; literals shorter than this cannot be indexed."""

TAG_CLASSES: tuple[str, ...] = (
    "search-engine",
    "scanner",
    "http-library",
    "browser-automation",
    "ai-crawler",
    "monitoring",
    "feed-reader",
)
"""crawler-user-agents tags that are classes of their own; any other tag is `crawler`."""

BOT_CLASSES: frozenset[str] = frozenset((*TAG_CLASSES, "crawler"))
"""Classes that declare an automated client (everything but browser, unknown and empty)."""

CLASSES: tuple[str, ...] = (*TAG_CLASSES, "crawler", "browser", "unknown", "empty")

_EMPTY = frozenset(("", "-"))


CRAWLER_CLASSES: frozenset[str] = frozenset(
    ("search-engine", "ai-crawler", "monitoring", "feed-reader", "crawler")
)
"""Self-declared crawlers. HTTP libraries and headless browsers are left out: apps and
people's own tools use them, so they say how a request was made, not that a crawler made it."""

TOOL_CLASSES: frozenset[str] = frozenset(("scanner", "browser-automation"))
"""Scanners and headless browsers: no person browses a site with them."""

SCANNER = "scanner"
"""The class of a declared scanner: whatever it fetches, it came to scan."""
HEADLESS = "browser-automation"
"""The class of a headless browser: a scraper when it walks pages, a link preview or a
screenshot when it renders one page with its assets (`automation-tool`)."""


LIBRARY_CLASSES: frozenset[str] = frozenset(("http-library", "empty"))
"""HTTP libraries and no user agent at all: how a script fetches, not who runs it."""

_BARE_PRODUCT = re.compile(r"^[A-Za-z][\w.-]*/[\w.-]+$")
"""`Java/1.6.0_04`, `Go-http-client/1.1`: one product token, no comment, no contact URL. A
browser always adds a comment (`(Windows NT 10.0; …)`) and a crawler that wants to be
recognised adds a name and a URL; a bare token is a library's or runtime's default string."""

_NAMED_BOT = re.compile(r"^[A-Za-z][\w.-]*bot/", re.IGNORECASE)
"""A bare token that names itself a bot (`Twitterbot/1.0`, X's link-card fetcher, sends
exactly that; `redditbot/1.0`): someone named a crawler, where a runtime's default names the
runtime (`okhttp`, `Java`, `Go-http-client`), never a bot. A crawler is judged as one."""


def is_library(ua: str | None) -> bool:
    """True for the user agent of an HTTP library or runtime left at its default: the class
    says so (`crawler-user-agents` tags it), or it is a bare product token (the list does
    not name every runtime: `Java/1.8.0_71` is none of its entries). A client the list tags
    as something else (a feed reader, a monitor) is that, however short its string."""
    cls = classify(ua)
    if cls in LIBRARY_CLASSES:
        return True
    if ua is None or cls in TAG_CLASSES:
        return False
    token = ua.strip()
    return bool(_BARE_PRODUCT.match(token)) and not _NAMED_BOT.match(token)


def is_crawler_class(cls: str) -> bool:
    return cls in CRAWLER_CLASSES


def is_bot_class(cls: str) -> bool:
    """True for classes whose user agent says outright that no person is at the keyboard."""
    return cls in BOT_CLASSES


@lru_cache(maxsize=262_144)
def classify(ua: str | None) -> str:
    """The class of one user agent; cached, since a log repeats a few agents many times."""
    if ua is None or ua.strip() in _EMPTY:
        return "empty"
    if _declared_scanners().search(ua):
        return "scanner"
    grams = _grams(ua.casefold())
    index = _crawlers().first(ua, grams)
    if index is not None:
        return _tag_class(crawleruseragents.CRAWLER_USER_AGENTS_DATA[index].get("tags") or [])
    if _spiders().first(ua, grams) is not None:
        device = _devices().first(ua, grams)
        found = None if device is None else _device_matchers()[device](ua)
        if found is not None and found.family == "Spider":
            return "crawler"
    family = _ua_family(ua, grams)
    return "browser" if family not in (None, "Other") else "unknown"


@lru_cache(maxsize=1)
def _declared_scanners() -> PatternMatcher:
    """Agents that declare a scanner the crawler-user-agents data files under another class
    (`policy/data/scanner_agents.txt`)."""
    return compile_pattern(pathfacts.data_pattern("scanner_agents.txt"))


def is_browser_agent(ua: str | None) -> bool:
    """The agent names a browser the way browsers do: a browser family ua-parser knows, behind
    the `Mozilla/` (or old Opera's `Opera/`) product token every browser sends. Apps that embed
    a platform name are not browsers: `wp-android/24.1 (Android 14)` parses as Android."""
    return ua is not None and ua.startswith(("Mozilla/", "Opera/")) and classify(ua) == "browser"


def classify_many(uas: Iterable[str | None]) -> dict[str | None, str]:
    """Classes of many user agents, each distinct one classified once."""
    return {ua: classify(ua) for ua in set(uas)}


def _tag_class(tags: Sequence[str]) -> str:
    """The first tag that is a class of its own, in the order the data lists them."""
    for tag in tags:
        if tag in TAG_CLASSES:
            return tag
    return "crawler"


def _ua_family(ua: str, grams: set[str]) -> str | None:
    index = _browsers().first(ua, grams)
    if index is None:
        return None
    found = _ua_matchers()[index](ua)
    return None if found is None else found.family


# --- the packages' data, indexed once ------------------------------------------------------


@lru_cache(maxsize=1)
def _corpus() -> tuple[str, ...]:
    """Real user agents (the bot list's own examples) to rank trigrams by how common they are."""
    return tuple(
        example
        for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA
        for example in entry.get("instances", ())
    )


@lru_cache(maxsize=1)
def _crawlers() -> _FirstMatch:
    patterns = [(e["pattern"], 0) for e in crawleruseragents.CRAWLER_USER_AGENTS_DATA]
    return _FirstMatch(patterns, _corpus())


@lru_cache(maxsize=1)
def _ua_matchers() -> list[Matcher[UserAgent]]:
    return ua_parser.load_lazy_builtins()[0]


@lru_cache(maxsize=1)
def _device_matchers() -> list[Matcher[Device]]:
    return ua_parser.load_lazy_builtins()[2]


@lru_cache(maxsize=1)
def _browsers() -> _FirstMatch:
    return _FirstMatch([(m.regex, m.flags) for m in _ua_matchers()], _corpus())


@lru_cache(maxsize=1)
def _spiders() -> _FirstMatch:
    """Only ua-parser's `Spider` devices: most agents match none, so the full list is skipped."""
    spiders = [m for m in _device_matchers() if _family(m) == "Spider"]
    return _FirstMatch([(m.regex, m.flags) for m in spiders], _corpus())


def _family(matcher: Matcher[Device]) -> str | None:
    family = getattr(matcher, "family", None)
    return family if isinstance(family, str) else None


@lru_cache(maxsize=1)
def _devices() -> _FirstMatch:
    return _FirstMatch([(m.regex, m.flags) for m in _device_matchers()], _corpus())


class _FirstMatch:
    """The first of an ordered list of patterns that matches, found through a trigram index.

    A pattern whose required literals cannot be worked out (or are shorter than a trigram) is
    tried on every input; the others only when one of their trigrams occurs, lowercased, in it.
    Lowercasing both sides keeps case-insensitive patterns correct; the compiled pattern has
    the last word.
    """

    def __init__(self, patterns: Sequence[tuple[str, int]], corpus: Iterable[str]) -> None:
        self._sources = list(patterns)
        self._compiled: list[re.Pattern[str] | None] = [None] * len(patterns)
        common = _gram_counts(tuple(corpus))
        by_gram: dict[str, set[int]] = {}
        always: list[int] = []

        def rarest(key: str) -> str:
            return min(_grams(key), key=lambda g: (common[g], g))

        def cost(keys: frozenset[str]) -> float:
            """How many corpus agents would wake this pattern up: lower is a better key set."""
            if any(len(k) < GRAM for k in keys):
                return float("inf")
            return sum(common[rarest(k)] + 1 for k in keys)

        for number, (source, _) in enumerate(patterns):
            keys = required_literals(source, cost)
            if not keys or cost(keys) == float("inf"):
                always.append(number)
                continue
            for key in keys:
                by_gram.setdefault(rarest(key), set()).add(number)
        self._by_gram = {g: frozenset(n) for g, n in by_gram.items()}
        self._gram_set = frozenset(by_gram)
        self._always = frozenset(always)
        self._always_sorted: tuple[int, ...] = tuple(sorted(always))

    def pattern(self, number: int) -> re.Pattern[str]:
        """Pattern `number`, compiled on first use: the index wakes few of the thousands of
        patterns for a given log, and compiling them all cost a second of every run."""
        compiled = self._compiled[number]
        if compiled is None:
            source, flags = self._sources[number]
            compiled = self._compiled[number] = re.compile(source, flags)
        return compiled

    @property
    def unindexed(self) -> int:
        """How many patterns are tried on every input (for tests and tuning)."""
        return len(self._always)

    def candidates(self, text: str, grams: set[str] | None = None) -> Sequence[int]:
        """Numbers of the patterns that may match `text`, in list order.

        `grams` are `text`'s casefolded trigrams, when the caller has them already.
        """
        if grams is None:
            grams = _grams(text.casefold())
        hits = grams & self._gram_set
        if not hits:
            return self._always_sorted
        found = set(self._always)
        for gram in hits:
            found |= self._by_gram[gram]
        return sorted(found)

    def first(self, text: str, grams: set[str] | None = None) -> int | None:
        """Number of the first pattern that matches `text`, or None."""
        for number in self.candidates(text, grams):
            if self.pattern(number).search(text):
                return number
        return None


@lru_cache(maxsize=4)
def _gram_counts(corpus: tuple[str, ...]) -> Counter[str]:
    """How many corpus agents hold each trigram; the four indexes share one corpus."""
    return Counter(g for text in corpus for g in _grams(text.casefold()))


def _grams(text: str) -> set[str]:
    return {text[i : i + GRAM] for i in range(len(text) - GRAM + 1)}


# --- which literal text a pattern cannot match without ------------------------------------


class _Unsupported(Exception):
    """Syntax the literal scan does not model; the pattern is then tried on every input."""


_QUANTIFIER = re.compile(r"\{(\d*)(?:,(\d*))?\}")
_NO_LITERAL_ESCAPES = frozenset("dDwWsSbBAZ")


def _longest(keys: frozenset[str]) -> float:
    return -min(len(k) for k in keys)


def required_literals(
    pattern: str, cost: Callable[[frozenset[str]], float] = _longest
) -> frozenset[str] | None:
    """Lowercased strings of which any match of `pattern` contains at least one, or None.

    None means no such set is known (the pattern must be tried on every input); that is also
    the answer for any syntax the scan does not model, so it errs towards trying too much.
    Where a pattern requires several literals (`A.*B`), `cost` picks the set to report.
    """
    try:
        scan = _Scan(pattern, cost)
        keys = scan.alternation()
        if scan.pos != len(pattern):
            raise _Unsupported(pattern)
    except (_Unsupported, IndexError):
        return None
    return keys


class _Scan:
    """A recursive-descent walk over Python regex syntax that keeps only required literals."""

    def __init__(self, pattern: str, cost: Callable[[frozenset[str]], float]) -> None:
        self.text = pattern
        self.pos = 0
        self.cost = cost

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def alternation(self) -> frozenset[str] | None:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.sequence())
        if any(b is None for b in branches):
            return None
        return frozenset().union(*(b for b in branches if b is not None))

    def sequence(self) -> frozenset[str] | None:
        options: list[frozenset[str]] = []
        run = ""
        while self.peek() not in ("", "|", ")"):
            literal, keys = self.atom()
            least, quantified = self.quantifier()
            if literal is not None and least >= 1:
                run += literal
            if quantified or literal is None:
                if run:
                    options.append(frozenset((run,)))
                run = ""
            if keys and least >= 1:
                options.append(keys)
        if run:
            options.append(frozenset((run,)))
        if not options:
            return None
        return min(options, key=self.cost)

    def atom(self) -> tuple[str | None, frozenset[str] | None]:
        char = self.text[self.pos]
        self.pos += 1
        if char == "(":
            return None, self.group()
        if char == "[":
            return self.char_class(), None
        if char == "\\":
            return self.escape(), None
        if char in ".^$":
            return None, None
        if char in "*+?":
            raise _Unsupported(self.text)
        return char.casefold(), None

    def group(self) -> frozenset[str] | None:
        counts = True
        if self.peek() == "?":
            self.pos += 1
            kind = self.peek()
            if kind == ":":
                self.pos += 1
            elif kind == "P" and self.text[self.pos + 1] == "<":
                self.pos = self.text.index(">", self.pos) + 1
            elif kind in "=!" or self.text.startswith(("<=", "<!"), self.pos):
                self.pos += 1 if kind in "=!" else 2
                counts = False
            else:
                flags = re.match(r"[aiLmsu]*(?:-[imsx]+)?([:)])", self.text[self.pos :])
                if not flags:
                    raise _Unsupported(self.text)
                self.pos += flags.end()
                if flags.group(1) == ")":
                    return None
        keys = self.alternation()
        if self.peek() != ")":
            raise _Unsupported(self.text)
        self.pos += 1
        return keys if counts else None

    def char_class(self) -> str | None:
        members: set[str] = set()
        negated = self.peek() == "^"
        if negated:
            self.pos += 1
        first = True
        while first or self.peek() != "]":
            char = self.text[self.pos]
            self.pos += 1
            first = False
            if char == "\\":
                char = self.text[self.pos]
                self.pos += 1
                if char.isalnum():
                    members.add("\0complex")
                    continue
            elif char == "-" and members and self.peek() != "]":
                members.add("\0complex")
                continue
            members.add(char)
        self.pos += 1
        folded = {m.casefold() for m in members}
        if negated or len(folded) != 1 or "\0complex" in members:
            return None
        return folded.pop()

    def escape(self) -> str | None:
        char = self.text[self.pos]
        self.pos += 1
        if char.isdigit():
            while self.peek().isdigit():
                self.pos += 1
            return None
        if char in _NO_LITERAL_ESCAPES:
            return None
        if char.isalnum():
            raise _Unsupported(self.text)
        return char.casefold()

    def quantifier(self) -> tuple[int, bool]:
        """(minimum repeat, whether a quantifier was there)."""
        char = self.peek()
        least = None
        if char in ("*", "?"):
            least = 0
            self.pos += 1
        elif char == "+":
            least = 1
            self.pos += 1
        elif char == "{":
            match = _QUANTIFIER.match(self.text, self.pos)
            if match:
                least = int(match.group(1) or 0)
                self.pos = match.end()
        if least is None:
            return 1, False
        if self.peek() in ("?", "+"):
            self.pos += 1
        return least, True
