"""Admin endpoints: decisions (and the operator's allow and block), actors, event ingest.

All need the bearer token (`auth.py`). Actors are named as the engine knows them: by clear key
for the decisions this process made or met, else by the keyed hash the store holds (the store
never holds clear addresses or ids).
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from scrapeguard.report.rank import harm_order
from scrapeguard.service.auth import admin_refused, ingest_refused
from scrapeguard.service.events import BadEvent, LineError, contract_event, decode
from scrapeguard.service.state import Service

MAX_TTL = 365 * 86400
MAX_REASON = 500
MAX_ERRORS = 100
"""Located errors listed in one ingest answer; the count covers them all."""


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def rule_decisions(service: Service) -> list[dict[str, Any]]:
    """The rules' decisions as JSON, each with the features it fired on (blocking: a thread)."""
    return [d.to_json() | ({"features": d.extra["features"]} if "features" in d.extra else {})
            for d in service.engine.decisions()]


def ranked(decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Most people's records received first: the harm done, not the noise made; ties as
    the terminal and the report break them (`harm_order`)."""
    return sorted(decisions, key=lambda d: harm_order(
        d["subjects"], d["action"], d["requests"], len(d.get("rules") or ()), d["actor"]))


def set_manual(service: Service, actor: str, action: str, ttl: int,
               reason: str) -> dict[str, Any]:
    """Store an operator's decision and count it (blocking: call it from a thread)."""
    record = service.engine.set_manual(actor, action, ttl, reason)  # type: ignore[arg-type]
    service.metrics.manual.labels(action=action).inc()
    return record


async def list_decisions(request: Request) -> Response:
    """---
    summary: Every standing decision, the rules' and the operator's
    security: [{bearer: []}]
    responses:
      200: {description: "{decisions: [...], manual: [...]}"}
      401: {description: no or wrong token}
    """
    if (refusal := admin_refused(request)) is not None:
        return refusal
    service = _service(request)
    rules, manual = await anyio.to_thread.run_sync(
        lambda: (rule_decisions(service), service.engine.manual_decisions()))
    return JSONResponse({"decisions": rules, "manual": manual})


def manual_request(body: Any) -> tuple[str, str, int, str]:
    """(actor, action, ttl, reason) from an operator's request; BadEvent names a bad field."""
    if not isinstance(body, dict):
        raise BadEvent("the body must be a JSON object")
    actor, action = body.get("actor"), body.get("action")
    ttl, reason = body.get("ttl", 3600), body.get("reason", "")
    if not isinstance(actor, str) or not actor:
        raise BadEvent("actor: required, as kind:value (ip:203.0.113.7)")
    if action not in ("allow", "block"):
        raise BadEvent("action: allow or block")
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL:
        raise BadEvent(f"ttl: whole seconds from 1 to {MAX_TTL}")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise BadEvent(f"reason: text of at most {MAX_REASON} characters")
    return actor, action, ttl, reason


async def set_decision(request: Request) -> Response:
    """---
    summary: Allow or block an actor for a time to live, over what the rules decided
    security: [{bearer: []}]
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [actor, action]
            properties:
              actor: {type: string, example: "ip:203.0.113.7"}
              action: {type: string, enum: [allow, block]}
              ttl: {type: integer, minimum: 1, default: 3600}
              reason: {type: string, maxLength: 500}
    responses:
      201: {description: the decision as stored}
      400: {description: a field is wrong; the error names it}
      401: {description: no or wrong token}
    """
    if (refusal := admin_refused(request)) is not None:
        return refusal
    service = _service(request)
    try:
        actor, action, ttl, reason = manual_request(decode(await request.body()))
        record = await anyio.to_thread.run_sync(
            lambda: set_manual(service, actor, action, ttl, reason))
    except (BadEvent, ValueError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(record, status_code=201)


async def list_actors(request: Request) -> Response:
    """---
    summary: Actors with a decision, most records received first, with features and exposure
    security: [{bearer: []}]
    parameters:
      - {in: query, name: limit, schema: {type: integer, default: 100}}
    responses:
      200: {description: "{actors: [{actor, action, subjects, requests, features, ...}]}"}
    """
    if (refusal := admin_refused(request)) is not None:
        return refusal
    service = _service(request)
    try:
        limit = max(1, min(10_000, int(request.query_params.get("limit", "100"))))
    except ValueError:
        return JSONResponse({"error": "limit: a whole number"}, status_code=400)
    rules = await anyio.to_thread.run_sync(lambda: rule_decisions(service))
    order = ranked(rules)
    return JSONResponse({"actors": order[:limit], "total": len(order)})


async def actor(request: Request) -> Response:
    """---
    summary: One actor's decisions (rules' and operator's), features and exposure
    security: [{bearer: []}]
    responses:
      200: {description: "{actor, decisions: [...], manual: [...]}"}
      404: {description: no decision stands on this actor}
    """
    if (refusal := admin_refused(request)) is not None:
        return refusal
    service = _service(request)
    name = request.path_params["actor"]
    rules, manual = await anyio.to_thread.run_sync(
        lambda: (rule_decisions(service), service.engine.manual_decisions()))
    mine = [d for d in rules if d["actor"] == name]
    overrides = [d for d in manual if d["actor"] == name]
    if not mine and not overrides:
        return JSONResponse({"error": "no decision stands on this actor"}, status_code=404)
    return JSONResponse({"actor": name, "decisions": mine, "manual": overrides})


async def ingest(request: Request) -> Response:
    """---
    summary: Bulk event ingest, one contract event per JSON line
    security: [{bearer: []}]
    requestBody:
      content:
        application/x-ndjson: {schema: {type: string}}
    responses:
      200: {description: "every line accepted: {accepted, rejected: 0, errors: []}"}
      422: {description: "some lines refused: {accepted, rejected, errors: [{line, error}]}"}
      413: {description: the body is over max_ingest_bytes}
    """
    if (refusal := ingest_refused(request)) is not None:
        return refusal
    service = _service(request)
    cap = service.config.max_ingest_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        return _too_large(cap)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            return _too_large(cap)
    accepted, errors = 0, []
    events = []
    for number, raw in enumerate(bytes(body).split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            events.append(contract_event(decode(raw)))
        except BadEvent as exc:
            errors.append(LineError(number, str(exc)))
            service.metrics.events.labels(source="ingest", outcome="malformed").inc()
            continue
        accepted += 1
    for event in events:
        service.submit(event, "ingest")
    answer = {"accepted": accepted, "rejected": len(errors),
              "errors": [e.to_json() for e in errors[:MAX_ERRORS]]}
    return JSONResponse(answer, status_code=422 if errors else 200)


def _too_large(cap: int) -> Response:
    return JSONResponse({"error": f"body over {cap} bytes: send smaller batches"},
                        status_code=413)
