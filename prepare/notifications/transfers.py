"""Notifications of transfers, sent at once (not by the reminder job).

The receiving partnership's coordinators are told of a proposal, and the
sending side (the proposer and its partnership's coordinators) of the answer:
in-app in the transaction of the proposal or decision, by e-mail after it
commits. A rolled-back proposal leaves neither.

The text of each kind is written by ``transfer_title`` alone, from its
parameters, so that it can become a message key rendered in the reader's
language.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation

from prepare.access.policy import partnership_coordinators
from prepare.notifications.messages import render_message
from prepare.notifications.models import Notification, NotificationKind
from prepare.notifications.reminders import send_notification_mails


def transfer_title(kind: str, *, ref: str, partnership: str) -> str:
    """The text of a transfer notification in the site's language (the stored
    fallback); readers see it rendered from its message key in their own."""
    with translation.override(settings.LANGUAGE_CODE):
        return render_message(kind, {"ref": ref, "partnership": partnership})


def _notify(
    user_ids: Iterable[int], *, kind: str, case_id: int, params: dict[str, str], url: str, key: str
) -> list[int]:
    """One notification per user (once per key), mailed after the commit; whom."""
    title = transfer_title(kind, **params)[:200]
    created: list[Notification] = []
    for user_id in sorted(set(user_ids)):
        try:
            with transaction.atomic():
                created.append(
                    Notification.objects.create(
                        user_id=user_id,
                        kind=kind,
                        case_id=case_id,
                        title=title,
                        message_key=kind,
                        params=params,
                        url=url,
                        dedupe_key=key,
                    )
                )
        except IntegrityError:
            continue  # already told (the same key): once is enough
    ids = [n.pk for n in created]
    if ids:
        transaction.on_commit(lambda: send_notification_mails(ids))
    return sorted(n.user_id for n in created)


def transfer_notify_proposed(transfer: Any) -> list[int]:
    """Tell the receiving partnership's coordinators; the ids of those told."""
    recipients = partnership_coordinators([transfer.to_partnership_id]).values_list("pk", flat=True)
    return _notify(
        recipients,
        kind=NotificationKind.TRANSFER_PROPOSED,
        case_id=transfer.case_id,
        params={"ref": transfer.case.reference, "partnership": transfer.from_partnership.name},
        url=reverse("cases:transfer_decide", args=[transfer.pk]),
        key=f"transfer_proposed:{transfer.pk}",
    )


def transfer_notify_decided(transfer: Any, *, accepted: bool, actor: Any) -> list[int]:
    """Tell the proposer and the sending partnership's coordinators of the answer
    (not the one who gave it); the proposal's own notifications are settled."""
    transfer_settle(transfer)
    recipients = set(
        partnership_coordinators([transfer.from_partnership_id]).values_list("pk", flat=True)
    )
    if transfer.proposed_by.is_active:
        recipients.add(transfer.proposed_by_id)
    recipients.discard(actor.pk)
    kind = NotificationKind.TRANSFER_ACCEPTED if accepted else NotificationKind.TRANSFER_DECLINED
    url = reverse("cases:transfer_inbox")
    if not accepted:
        url = reverse("cases:case", args=[transfer.case_id]) + "#transfer"
    return _notify(
        recipients,
        kind=kind,
        case_id=transfer.case_id,
        params={"ref": transfer.case.reference, "partnership": transfer.to_partnership.name},
        url=url,
        key=f"transfer_decided:{transfer.pk}",
    )


def transfer_settle(transfer: Any) -> None:
    """The proposal is answered or withdrawn: its notifications need no action."""
    Notification.objects.filter(
        dedupe_key=f"transfer_proposed:{transfer.pk}", read_at__isnull=True
    ).update(read_at=timezone.now())
