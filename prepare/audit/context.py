"""Per-request facts every audit event carries (request id, source address)."""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    source_ip: str | None


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "prepare_audit_request", default=None
)


def set_context(ctx: RequestContext | None) -> contextvars.Token[RequestContext | None]:
    return _current.set(ctx)


def reset_context(token: contextvars.Token[RequestContext | None]) -> None:
    _current.reset(token)


def current_context() -> RequestContext:
    return _current.get() or RequestContext(request_id="", source_ip=None)


def new_request_id() -> str:
    return str(uuid.uuid4())
