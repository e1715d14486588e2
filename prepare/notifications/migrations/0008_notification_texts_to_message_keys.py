"""Existing notifications: their stored English text becomes a message key and parameters.

Rows were written in the installation's language (English by default). A text
that matches one of the English messages below is replaced by its key and
parameters, and is then shown in each reader's language; any other text (a
translated installation, a text edited by hand) keeps its stored title, which
is shown as it is.
"""

from __future__ import annotations

import re

from django.db import migrations

ISO = r"(?P<date>\d{4}-\d{2}-\d{2})"
REF = r"(?P<ref>\S+)"

PATTERNS = [
    ("release_today", rf"Release of {REF} today \({ISO}\)"),
    ("release_in_days", rf"Release of {REF} in (?P<days>\d+) days? \({ISO}\)"),
    ("review_due", rf"Review of {REF} due on {ISO}"),
    ("follow_up_6", rf"6-month follow-up review of {REF} is due \({ISO}\)"),
    ("follow_up_12", rf"12-month follow-up review of {REF} is due \({ISO}\)"),
    ("checklist_overdue", rf"Checklist item of {REF} is overdue \(due {ISO}\)"),
    ("checklist_due", rf"Checklist item of {REF} is due on {ISO}"),
    ("signal_urgent", rf"Urgent signal on {REF} to acknowledge"),
    ("signal_high", rf"High-severity signal on {REF} to acknowledge"),
    ("signal_urgent_late", rf"Urgent signal on {REF} still not acknowledged"),
    ("signal_high_late", rf"High-severity signal on {REF} still not acknowledged"),
    ("erasure_to_approve", rf"Erasure of {REF} to approve"),
]
COMPILED = [(key, re.compile(pattern)) for key, pattern in PATTERNS]


def key_and_params(title: str) -> tuple[str, dict] | None:
    for key, pattern in COMPILED:
        match = pattern.fullmatch(title)
        if match:
            params = match.groupdict()
            if "days" in params:
                params["days"] = int(params["days"])
            return key, params
    return None


def forwards(apps, schema_editor):
    Notification = apps.get_model("notifications", "Notification")
    rows = Notification.objects.filter(message_key="").only("pk", "title").order_by("pk")
    batch = []
    for row in rows.iterator(chunk_size=1000):
        found = key_and_params(row.title)
        if found is None:
            continue
        row.message_key, row.params = found
        row.title = ""
        batch.append(row)
        if len(batch) >= 1000:
            Notification.objects.bulk_update(batch, ["message_key", "params", "title"])
            batch = []
    if batch:
        Notification.objects.bulk_update(batch, ["message_key", "params", "title"])


def backwards(apps, schema_editor):
    from django.utils import translation

    from prepare.notifications.messages import render_message

    Notification = apps.get_model("notifications", "Notification")
    with translation.override("en"):
        for row in Notification.objects.exclude(message_key="").iterator(chunk_size=1000):
            row.title = (
                render_message(row.message_key, row.params, row.title) or row.message_key
            )[:200]
            row.save(update_fields=["title"])


class Migration(migrations.Migration):
    dependencies = [("notifications", "0007_notification_message_key")]

    operations = [migrations.RunPython(forwards, backwards)]
