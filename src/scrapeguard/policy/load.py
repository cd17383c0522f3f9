"""Reading rule packs from YAML, with every problem located at file:line:column.

A policy is written by hand, so a mistake must point at its place: YAML syntax errors carry
yaml's own marks; pydantic's errors are walked back along their `loc` path through the YAML
node tree; a bad condition is placed at the offending character inside the `when` value.

`check_policy` is the linting mode: each rule and route is validated on its own, so one bad
rule does not hide the next, and the validators in `validators.py` run on whatever parsed.
`load_policy` is the same walk that raises `PolicyError` with every issue when any is an error.

`extends: default` adds a file to the shipped pack (or the `base` given): rules with the same
id replace the pack's, `{id, enabled}` alone switches one of the pack's rules on or off, the
file's routes come before the pack's and replace those of the same name (routes match in
order: a path both declare is the site's), other lists are concatenated, settings override
field by field. Without it the file is the whole policy.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from scrapeguard.errors import Location, PolicyError, PolicyIssue
from scrapeguard.policy import validators
from scrapeguard.policy.model import Allowlist, Policy, Route, Rule
from scrapeguard.policy.validators import Loc, dotted

log = logging.getLogger(__name__)

DEFAULT = "default"
"""The only value `extends` takes: the shipped pack (or the `base` a caller passes)."""

Source = str | Path | Traversable

MAX_NESTING = 64
"""How deep a policy's collections may nest; the shipped pack needs five levels."""

MAX_ALIAS_NODES = 10_000
"""How many nodes YAML aliases may add to a policy beyond those written out. Anchors save
repeating a block or two; a few hundred bytes of aliases of aliases (a "billion laughs")
otherwise expand to billions of nodes that validation would walk for minutes."""


def default_pack() -> Traversable:
    """The rule pack shipped with the package."""
    return files("scrapeguard.policy").joinpath("default.yaml")


def load_policy(path: str | Path | None = None, *, base: Source | None = None) -> Policy:
    """The effective policy of a file (the shipped pack when `path` is None).

    Raises PolicyError carrying every issue found when any of them is an error; warnings of a
    policy that loads are logged.
    """
    policy, issues = _check(default_pack() if path is None else path, base)
    if policy is None:
        raise PolicyError(issues)
    for issue in issues:
        log.warning("%s", issue)
    return policy


def check_policy(
    path: str | Path | None = None, *, base: Source | None = None
) -> list[PolicyIssue]:
    """Every error and warning of a policy file at once, in file order; never raises."""
    return _check(default_pack() if path is None else path, base)[1]


# --- one file ------------------------------------------------------------------------------


@dataclass
class _Document:
    """A policy file's text and YAML node tree, to turn paths into positions."""

    path: str
    text: str = ""
    root: yaml.Node | None = None

    def node(self, loc: Loc, *, key: bool = False) -> yaml.Node | None:
        """The deepest node along `loc` (the key node of the last step when `key`)."""
        node = self.root
        for step, part in enumerate(loc):
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                pairs: list[tuple[yaml.Node, yaml.Node]] = node.value
                found = [(k, v) for k, v in pairs if getattr(k, "value", None) == part]
                if not found:
                    return node
                key_node, value_node = found[-1]  # yaml keeps the last of duplicate keys
                if key and step == len(loc) - 1:
                    return key_node
                node = value_node
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                items: list[yaml.Node] = node.value
                if not 0 <= part < len(items):
                    return node
                node = items[part]
            else:
                return node
        return node

    def locate(self, loc: Loc, offset: int | None = None, *, key: bool = False) -> Location:
        node = self.node(loc, key=key)
        if node is None:
            return Location(self.path)
        index = node.start_mark.index
        if offset is not None and isinstance(node, yaml.ScalarNode):
            index = _raw_index(self.text, node, offset)
        return self.position(index)

    def position(self, index: int) -> Location:
        line = self.text.count("\n", 0, index) + 1
        column = index - (self.text.rfind("\n", 0, index) + 1) + 1
        return Location(self.path, line, column)


def _raw_index(text: str, node: yaml.ScalarNode, offset: int) -> int:
    """Where character `offset` of a scalar's value sits in the file.

    The value and its source differ by quotes, escapes, folding and block indentation; walking
    both side by side and skipping source characters that are not in the value handles all of
    them for the plain text conditions are.
    """
    start, end = node.start_mark.index, node.end_mark.index
    raw = start
    if node.style in ("|", ">"):
        raw = text.find("\n", start, end) + 1 or start
    value: str = node.value
    for position, char in enumerate(value):
        while raw < end and text[raw] != char and not (char.isspace() and text[raw].isspace()):
            raw += 1
        if position == offset or raw >= end:
            break
        raw += 1
    return min(raw, max(end - 1, start))


@dataclass
class _Pack:
    """One file, validated piece by piece: what parsed, where it came from, what did not."""

    doc: _Document
    policy: Policy | None = None
    rule_lines: list[int] = field(default_factory=list)
    """File position (index in `rules:`) of each rule kept in `policy.rules`."""
    route_lines: list[int] = field(default_factory=list)
    toggles: list[tuple[int, str, bool]] = field(default_factory=list)
    """(index in `rules:`, rule id, enabled) for `{id, enabled}` entries of an extending file."""
    given: frozenset[str] = frozenset()
    """Top-level keys the file gives (so a merge knows what it overrides)."""
    issues: list[PolicyIssue] = field(default_factory=list)

    @property
    def extends(self) -> bool:
        return self.policy is not None and self.policy.extends == DEFAULT

    def origins(self) -> dict[Loc, tuple[_Document, Loc]]:
        table: dict[Loc, tuple[_Document, Loc]] = {}
        for kept, line in enumerate(self.rule_lines):
            table[("rules", kept)] = (self.doc, ("rules", line))
        for kept, line in enumerate(self.route_lines):
            table[("routes", kept)] = (self.doc, ("routes", line))
        return table


def _read(source: Source) -> tuple[_Document, Any]:
    doc = _Document(str(source))
    try:
        doc.text = source.read_text(encoding="utf-8") if not isinstance(source, str) \
            else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _Failed(PolicyIssue(Location(doc.path), f"cannot read policy: {exc}")) from None
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(doc.text)  # the reader refuses control characters here
        doc.root = loader.get_single_node()
        bomb = _alias_bomb(doc) or _too_deep(doc)
        if bomb is not None:
            raise _Failed(bomb)
        data = None if doc.root is None else loader.construct_document(doc.root)
    except yaml.reader.ReaderError as exc:
        line = doc.text.count("\n", 0, exc.position) + 1
        column = exc.position - (doc.text.rfind("\n", 0, exc.position) + 1) + 1
        raise _Failed(PolicyIssue(Location(doc.path, line, column),
                                  f"YAML: character {exc.character!r} is not allowed "
                                  "(control characters cannot appear in a policy)")) from None
    except RecursionError:
        raise _Failed(PolicyIssue(Location(doc.path), f"YAML: nested more than "
                                  f"{MAX_NESTING} levels deep")) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"YAML syntax: {exc.problem or exc.context}"
        if exc.context and exc.problem:
            message += f" ({exc.context})"
        where = Location(doc.path) if mark is None else \
            Location(doc.path, mark.line + 1, mark.column + 1)
        raise _Failed(PolicyIssue(where, message)) from None
    except yaml.YAMLError as exc:
        raise _Failed(PolicyIssue(Location(doc.path), f"YAML: {exc}")) from None
    finally:
        if loader is not None:
            loader.dispose()
    return doc, data


def _too_deep(doc: _Document) -> PolicyIssue | None:
    """Collections nested past `MAX_NESTING`: no policy needs it, and every later walk of
    the tree (duplicate keys, validation) recurses once per level."""
    stack: list[tuple[yaml.Node, int]] = [(doc.root, 1)] if doc.root is not None else []
    seen: set[int] = set()
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if depth > MAX_NESTING:
            mark = node.start_mark
            return PolicyIssue(Location(doc.path, mark.line + 1, mark.column + 1),
                               f"YAML: nested more than {MAX_NESTING} levels deep")
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend(((key, depth + 1), (value, depth + 1)))
    return None


def _alias_bomb(doc: _Document) -> PolicyIssue | None:
    """An alias that refers to itself, or aliases that expand past `MAX_ALIAS_NODES`.

    Composing keeps an alias as a second reference to its anchor's node, so the tree is small
    however much it expands; sizes are counted once per node here, before anything (the
    duplicate-key walk, pydantic) visits the expansion.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    parents: dict[int, int] = {}

    def size(node: yaml.Node) -> int | yaml.Node:
        """Expanded size of `node`, or the node an alias cycle goes through."""
        ident = id(node)
        parents[ident] = parents.get(ident, 0) + 1
        if ident in sizes:
            return sizes[ident]
        if ident in open_nodes:
            return node
        open_nodes.add(ident)
        total = 1
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        for child in children:
            found = size(child)
            if isinstance(found, yaml.Node):
                return found
            total += found
        open_nodes.discard(ident)
        sizes[ident] = total
        return total

    if doc.root is None:
        return None
    found = size(doc.root)
    if isinstance(found, yaml.Node):
        return PolicyIssue(doc.position(found.start_mark.index),
                           "YAML: an alias refers to the block that contains it")
    added = found - len(sizes)
    if added <= MAX_ALIAS_NODES:
        return None
    # Point at the anchor whose repetitions add the most.
    worst = max((n for n in _nodes(doc.root) if parents[id(n)] > 1),
                key=lambda n: sizes[id(n)] * (parents[id(n)] - 1))
    return PolicyIssue(
        doc.position(worst.start_mark.index),
        f"YAML: aliases expand the policy by {added:,} nodes (at most {MAX_ALIAS_NODES:,}); "
        "this anchor is repeated the most (an alias bomb?) — write the values out instead",
    )


def _nodes(root: yaml.Node) -> list[yaml.Node]:
    """Every distinct node of a composed tree, once each, in document order."""
    seen: set[int] = set()
    order: list[yaml.Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        stack.extend(reversed(children))
    return order


class _Failed(Exception):
    def __init__(self, issue: PolicyIssue) -> None:
        self.issue = issue


def _parse(source: Source) -> _Pack:
    try:
        doc, data = _read(source)
    except _Failed as failed:
        return _Pack(_Document(str(source)), issues=[failed.issue])
    pack = _Pack(doc, issues=_duplicate_keys(doc, doc.root))
    if not isinstance(data, dict):
        what = "empty" if data is None else f"a {type(data).__name__}"
        pack.issues.append(PolicyIssue(
            doc.locate(()), f"a policy is a mapping (version, rules, routes, …), this is {what}"
        ))
        return pack
    pack.given = frozenset(str(k) for k in data)
    extending = data.get("extends") == DEFAULT
    top: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("rules", "routes"):
            continue
        if key == "extends" and value not in (None, DEFAULT):
            pack.issues.append(_issue(doc, ("extends",), f"only `extends: {DEFAULT}` is supported"))
            continue
        if _fine(pack, Policy, {key: value}, ()):
            top[key] = value
    routes = _items(pack, data, "routes", Route, extending)
    rules = _items(pack, data, "rules", Rule, extending)
    try:
        pack.policy = Policy.model_validate({**top, "routes": routes, "rules": rules})
    except ValidationError as exc:
        pack.issues.extend(_pydantic_issues(doc, exc, (), Policy))
    return pack


def _fine(pack: _Pack, model: type[BaseModel], data: Any, prefix: Loc) -> bool:
    """Validate, recording located issues; True when valid."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        pack.issues.extend(_pydantic_issues(pack.doc, exc, prefix, model))
        return False
    return True


def _items(
    pack: _Pack, data: Mapping[str, Any], key: str, model: type[BaseModel], extending: bool
) -> list[Any]:
    """The valid entries of a list section, each validated on its own."""
    entries = data.get(key)
    if entries is None:
        return []
    if not isinstance(entries, list):
        pack.issues.append(_issue(pack.doc, (key,), f"`{key}` must be a list"))
        return []
    kept: list[Any] = []
    lines = pack.rule_lines if key == "rules" else pack.route_lines
    ids: dict[str, int] = {}
    for number, entry in enumerate(entries):
        loc: Loc = (key, number)
        ident = entry.get("id") if key == "rules" and isinstance(entry, dict) else None
        if isinstance(ident, str):
            if ident in ids:
                first = pack.doc.locate(("rules", ids[ident]))
                pack.issues.append(_issue(
                    pack.doc, (*loc, "id"), f"rule id {ident!r} appears twice (first at line "
                    f"{first.line})"
                ))
                continue
            ids[ident] = number
        if (
            key == "rules"
            and isinstance(entry, dict)
            and set(entry) == {"id", "enabled"}
            and _toggle(pack, entry, number, extending)
        ):
            continue
        if _fine(pack, model, entry, loc):
            kept.append(entry)
            lines.append(number)
    return kept


def _toggle(pack: _Pack, entry: dict[str, Any], number: int, extending: bool) -> bool:
    """An `{id, enabled}` entry: recorded when the file extends a pack; True when handled."""
    if not extending:
        pack.issues.append(_issue(
            pack.doc, ("rules", number),
            f"rule {entry['id']!r} gives only `id` and `enabled`, which switches a rule of the "
            f"pack this file extends, but the file has no `extends: {DEFAULT}`",
        ))
        return True
    if not isinstance(entry["id"], str):
        pack.issues.append(_issue(pack.doc, ("rules", number, "id"), "a rule id is a string"))
        return True
    if not isinstance(entry["enabled"], bool):
        pack.issues.append(_issue(pack.doc, ("rules", number, "enabled"),
                                  "`enabled` must be true or false"))
        return True
    pack.toggles.append((number, entry["id"], entry["enabled"]))
    return True


def _duplicate_keys(doc: _Document, node: yaml.Node | None) -> list[PolicyIssue]:
    """YAML quietly keeps the last of two equal keys; in a rule that hides a mistake."""
    issues: list[PolicyIssue] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = getattr(key, "value", None)
            if isinstance(name, str) and name != "<<":
                if name in seen:
                    where = doc.position(key.start_mark.index)
                    issues.append(PolicyIssue(where, f"key {name!r} appears twice in one mapping"))
                seen.add(name)
            issues.extend(_duplicate_keys(doc, value))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            issues.extend(_duplicate_keys(doc, item))
    return issues


def _issue(doc: _Document, loc: Loc, message: str, severity: str = "error") -> PolicyIssue:
    return PolicyIssue(doc.locate(loc), f"{dotted(loc)}: {message}" if loc else message, severity)


# --- pydantic errors, located --------------------------------------------------------------

_QUOTED = re.compile(r"'([^']*)'")


def _pydantic_issues(
    doc: _Document, exc: ValidationError, prefix: Loc, model: type[BaseModel]
) -> list[PolicyIssue]:
    issues = []
    for error in exc.errors(include_url=False):
        inner: Loc = tuple(error["loc"])
        loc = (*prefix, *inner)
        kind, message = error["type"], str(error["msg"]).removeprefix("Value error, ")
        where = doc.locate(loc)
        if kind == "extra_forbidden":
            name = str(loc[-1])
            allowed = _fields_at(model, inner[:-1])
            message = f"unknown key {name!r}{_suggest(name, allowed)}"
            if allowed:
                message += f"; allowed: {', '.join(allowed)}"
            where = doc.locate(loc, key=True)
        elif kind == "missing":
            message = f"missing required key {loc[-1]!r}"
            where = doc.locate(loc[:-1])
        elif kind == "literal_error":
            choices = _QUOTED.findall(str((error.get("ctx") or {}).get("expected", "")))
            message += _suggest(str(error.get("input")), choices)
        issues.append(PolicyIssue(where, f"{dotted(loc)}: {message}" if loc else message))
    return issues


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys allowed in the mapping at `loc` below `model` (list indices skipped)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part) if current is not None else None
        current = _model_in(info.annotation) if info is not None else None
    return list(current.model_fields) if current is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


# --- merging onto a base pack and checking ---------------------------------------------------


@dataclass
class _Locator:
    """Positions for a (possibly merged) policy: each list entry maps back to its own file."""

    doc: _Document
    origins: dict[Loc, tuple[_Document, Loc]]

    def __call__(self, loc: Loc, offset: int | None = None) -> Location:
        doc, where = self.resolve(loc)
        return doc.locate(where, offset)

    def name(self, loc: Loc) -> str:
        return dotted(self.resolve(loc)[1])

    def resolve(self, loc: Loc) -> tuple[_Document, Loc]:
        """The file and the path within it of a path into the policy."""
        for size in (3, 2):
            found = self.origins.get(loc[:size])
            if found is not None and len(loc) >= size:
                doc, start = found
                return doc, (*start, *loc[size:])
        return self.doc, loc


def _check(source: Source, base: Source | None) -> tuple[Policy | None, list[PolicyIssue]]:
    pack = _parse(source)
    issues = list(pack.issues)
    policy, locate = pack.policy, _Locator(pack.doc, pack.origins())
    if policy is not None and pack.extends:
        base_pack = _parse(default_pack() if base is None else base)
        issues += [i for i in base_pack.issues if i.severity == "error"]
        if base_pack.policy is not None and base_pack.extends:
            issues.append(_issue(base_pack.doc, ("extends",),
                                 "a pack that is extended cannot itself extend another"))
        elif base_pack.policy is not None:
            policy, locate, merge_issues = _merge(base_pack, pack)
            issues += merge_issues
    if policy is not None:
        issues += [
            i for i in validators.validate(policy, locate)
            if i.location.path == pack.doc.path or i.severity == "error"
        ]
    issues.sort(key=lambda i: (i.location.path != pack.doc.path, i.location.path,
                               i.location.line or 0, i.location.column or 0))
    failed = policy is None or any(i.severity == "error" for i in issues)
    return (None if failed else policy), issues


def _merge(base: _Pack, user: _Pack) -> tuple[Policy, _Locator, list[PolicyIssue]]:
    assert base.policy is not None
    assert user.policy is not None
    old, new = base.policy, user.policy
    origins: dict[Loc, tuple[_Document, Loc]] = {}
    issues: list[PolicyIssue] = []

    replacing = {rule.id: (line, rule) for line, rule in zip(user.rule_lines, new.rules,
                                                              strict=True)}
    switches = {ident: enabled for _, ident, enabled in user.toggles}
    known = {rule.id for rule in old.rules}
    for line, ident, _ in user.toggles:
        if ident not in known:
            issues.append(_issue(user.doc, ("rules", line, "id"),
                                 f"no rule {ident!r} in the extended pack to switch"
                                 f"{_suggest(ident, sorted(known))}"))
    rules: list[Rule] = []
    for number, rule in enumerate(old.rules):
        if rule.id in replacing:
            line, rule = replacing.pop(rule.id)
            origins[("rules", len(rules))] = (user.doc, ("rules", line))
        else:
            if rule.id in switches:
                rule = rule.model_copy(update={"enabled": switches[rule.id]})
            origins[("rules", len(rules))] = (base.doc, ("rules", base.rule_lines[number]))
        rules.append(rule)
    for line, rule in replacing.values():
        origins[("rules", len(rules))] = (user.doc, ("rules", line))
        rules.append(rule)

    def concat(loc: Loc, first: list[Any], second: list[Any],
               lines: tuple[list[int], list[int]] | None = None) -> list[Any]:
        for number in range(len(first)):
            origins[(*loc, number)] = (base.doc, (*loc, lines[0][number] if lines else number))
        for number in range(len(second)):
            origins[(*loc, len(first) + number)] = \
                (user.doc, (*loc, lines[1][number] if lines else number))
        return [*first, *second]

    def site_first(pack: list[Route], site: list[Route]) -> list[Route]:
        """The site's routes before the pack's, a pack route of the same name dropped: a path
        both declare is the site's (routes match in order), as a rule of the same id is."""
        named = {route.name for route in site}
        kept = [(number, route) for number, route in enumerate(pack) if route.name not in named]
        for number in range(len(site)):
            origins[("routes", number)] = (user.doc, ("routes", user.route_lines[number]))
        for position, (number, _) in enumerate(kept, start=len(site)):
            origins[("routes", position)] = (base.doc, ("routes", base.route_lines[number]))
        return [*site, *(route for _, route in kept)]

    settings = old.settings.model_copy(
        update={name: getattr(new.settings, name) for name in new.settings.model_fields_set}
    )
    allowlist = Allowlist(
        cidrs=concat(("allowlist", "cidrs"), old.allowlist.cidrs, new.allowlist.cidrs),
        accounts=concat(("allowlist", "accounts"), old.allowlist.accounts,
                        new.allowlist.accounts),
        search_engines=(new.allowlist if "search_engines" in new.allowlist.model_fields_set
                        else old.allowlist).search_engines,
    )
    merged = Policy.model_validate({
        "version": new.version if "version" in user.given else old.version,
        "extends": None,
        "settings": settings,
        "allowlist": allowlist,
        "trusted_proxies": concat(("trusted_proxies",), old.trusted_proxies,
                                  new.trusted_proxies),
        "networks": new.networks if "networks" in user.given else old.networks,
        "log_format": new.log_format if new.log_format is not None else old.log_format,
        "traps": concat(("traps",), old.traps, new.traps),
        "routes": site_first(old.routes, new.routes),
        "route_classes": concat(("route_classes",), old.route_classes, new.route_classes),
        "rules": rules,
    })
    return merged, _Locator(user.doc, origins), issues
