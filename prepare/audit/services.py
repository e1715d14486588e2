"""The one way to write an audit event."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models
from django.utils import timezone

from prepare.audit import chain
from prepare.audit.context import current_context
from prepare.audit.models import Event, Outcome


def audit_record(
    *,
    action: str,
    actor: Any = None,
    username: str = "",
    case: Any = None,
    case_ids: Iterable[int] = (),
    obj: models.Model | None = None,
    category: str = "",
    purpose: str = "",
    detail: Mapping[str, Any] | None = None,
    outcome: str = Outcome.SUCCESS,
    object_type: str = "",
    object_id: str = "",
) -> Event:
    """Append one event to the chain in the current transaction.

    ``detail`` must hold identifiers and field names only, never case content.
    ``object_type`` and ``object_id`` name an object that is not a row (a
    refused route and the ids asked for); ``obj`` takes precedence.
    """
    ctx = current_context()
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    event = Event(
        occurred_at=timezone.now(),
        actor_id=actor.pk if is_user else None,
        actor_username=(actor.get_username() if is_user else username)[:150],
        organisation_id=getattr(actor, "organisation_id", None) if is_user else None,
        role=getattr(actor, "role", "") if is_user else "",
        action=action,
        outcome=outcome,
        case_id=case.pk if case is not None else None,
        case_ids=sorted({int(i) for i in case_ids}),
        object_type=obj._meta.label_lower if obj is not None else object_type[:64],
        object_id=str(obj.pk) if obj is not None else object_id[:64],
        category=category,
        purpose=purpose[:300],
        detail=dict(detail or {}),
        request_id=ctx.request_id,
        source_ip=ctx.source_ip,
    )
    # Through the module, so that a test can make ``chain.append`` fail and
    # prove that nothing is served or committed without its event (LG-04).
    return chain.append(event)


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Names of the fields whose value differs; the values stay out of the log."""
    return sorted(k for k in after if before.get(k) != after[k])
