"""Monitoring test helpers on top of the cast (also used by the route tables)."""

from __future__ import annotations

import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone

from prepare.monitoring.models import Contact, ContactKind, ContactVersion, LicenceCondition
from prepare.partnerships.models import Membership
from tests.cast import ALL, Cast, sentinel


def contact_sentinel(category: str) -> str:
    """The summary of the cast case's contact in ``category``: a sentinel of it."""
    return f"{sentinel(category)}-CONTACT"


def add_contacts(cast: Cast) -> dict[str, Contact]:
    """One contact per category on the cast's case K, its summary a sentinel."""
    now = timezone.now()
    return {
        category: Contact.objects.create(
            case=cast.case,
            category=category,
            kind=ContactKind.MEETING,
            occurred_at=now - datetime.timedelta(hours=i + 1),
            who=cast.coordinator,
            with_whom=f"WITH-{category.upper()}",
            summary=contact_sentinel(category),
            created_by=cast.coordinator,
            updated_by=cast.coordinator,
        )
        for i, category in enumerate(ALL)
    }


def add_condition(cast: Cast, text: str = "Curfew 22:00-06:00") -> LicenceCondition:
    return LicenceCondition.objects.create(
        case=cast.case,
        text=text,
        starts_on=timezone.localdate() - datetime.timedelta(days=30),
        created_by=cast.case_manager,
        updated_by=cast.case_manager,
    )


def name_for_escalation(cast: Cast, *keys: str) -> None:
    Membership.objects.filter(
        partnership=cast.partnership, organisation__in=[cast.orgs[k] for k in keys]
    ).update(escalation=True)


# --- For the route tables (tests/routes_table.py, test_route_matrix, audit coverage) ------

MISSING = 987_654
CONDITION_TEXT = f"{sentinel('justice')}-CONDITION"
BREACH_TEXT = f"{sentinel('justice')}-BREACH"
SIGNAL_TEXT = f"{sentinel('justice')}-SIGNAL"


def plant_monitoring(cast: Cast) -> None:
    """K's monitoring, once: a contact per category (its summary the category's
    sentinel), a licence condition with a breach, and a high signal in justice
    that alerts every user (the policy still decides who reads it)."""
    from prepare.accounts.models import User
    from prepare.monitoring.models import Breach, Signal, SignalAlert

    if Contact.objects.filter(case=cast.case).exists():
        return
    add_contacts(cast)
    condition = add_condition(cast, CONDITION_TEXT)
    Breach.objects.create(
        condition=condition,
        case=cast.case,
        occurred_on=timezone.localdate() - datetime.timedelta(days=1),
        description=BREACH_TEXT,
        reported_by=cast.case_manager,
        created_by=cast.case_manager,
        updated_by=cast.case_manager,
    )
    signal = Signal.objects.create(
        case=cast.case,
        category="justice",
        severity="high",
        escalated=True,
        description=SIGNAL_TEXT,
        raised_by=cast.case_manager,
        created_by=cast.case_manager,
        updated_by=cast.case_manager,
    )
    SignalAlert.objects.bulk_create(
        SignalAlert(signal=signal, user=user) for user in User.objects.filter(is_active=True)
    )


def monitoring_ids(case: object) -> dict[str, int]:
    """Ids of K's planted monitoring records for URLs, or ids that exist nowhere."""
    from prepare.monitoring.models import Signal

    contact = Contact.objects.filter(case=case).order_by("pk").values_list("pk", flat=True)
    condition = (
        LicenceCondition.objects.filter(case=case).order_by("pk").values_list("pk", flat=True)
    )
    signal = Signal.objects.filter(case=case).order_by("pk").values_list("pk", flat=True)
    ids = {
        "contact": contact.first() or MISSING,
        "condition": condition.first() or MISSING,
        "signal": signal.first() or MISSING,
    }
    return {
        "contact_id": ids["contact"],
        "contact_pk": ids["contact"],
        "condition_pk": ids["condition"],
        "condition_id": ids["condition"],
        "signal_pk": ids["signal"],
        "signal_id": ids["signal"],
    }


def monitoring_state() -> dict[str, list[tuple[object, ...]]]:
    """Every monitoring row a write could touch, for before/after comparisons."""
    from prepare.monitoring.models import Breach, Signal, SignalAlert

    return {
        "contacts": sorted(
            Contact.objects.values_list("pk", "case_id", "category", "summary", "version")
        ),
        "contact_versions": sorted(
            ContactVersion.objects.values_list("pk", "contact_id", "version", "summary")
        ),
        "conditions": sorted(
            LicenceCondition.objects.values_list("pk", "case_id", "text", "ends_on", "version")
        ),
        "breaches": sorted(Breach.objects.values_list("pk", "condition_id", "description")),
        "signals": sorted(
            Signal.objects.values_list("pk", "case_id", "category", "status", "version")
        ),
        "alerts": sorted(
            (a, s, u, c is not None)
            for a, s, u, c in SignalAlert.objects.values_list(
                "pk", "signal_id", "user_id", "closed_at"
            )
        ),
    }


# --- The route matrix's rows for the monitoring pages (tests/test_route_matrix.py) ----------

MATRIX_TEXT = "MATRIX-MONITORING-TEXT"
WRITE_EVENTS = {
    "monitoring:contact_create": "create",
    "monitoring:contact_correct": "update",
    "monitoring:condition_create": "create",
    "monitoring:condition_end": "update",
    "monitoring:breach_create": "create",
    "monitoring:signal_create": "create",
    "monitoring:signal_acknowledge": "update",
    "monitoring:signal_close": "update",
}


def _versioned(data: dict[str, str], key: str, variant: str) -> dict[str, str]:
    if variant == "stale":
        data[key] = "7"
    elif variant == "no_version":
        del data[key]
    return data


def matrix_request(cast: Cast, probe: Any, pk: int) -> tuple[str, dict[str, str]]:
    """The URL and form data of a probe of a monitoring route, K's monitoring planted."""
    plant_monitoring(cast)
    ids = monitoring_ids(cast.case)
    route, variant = probe.route, probe.variant
    today = timezone.localdate().isoformat()
    invalid = variant == "invalid"
    if route == "monitoring:alerts":
        return reverse(route), {}
    if route == "monitoring:contact_create":
        when = timezone.localtime() - datetime.timedelta(hours=3)
        return reverse(route, args=[pk]), {
            "contact-category": probe.category or "",
            "contact-kind": "call",
            "contact-occurred_at": when.strftime("%Y-%m-%dT%H:%M"),
            "contact-summary": "" if invalid else MATRIX_TEXT,
        }
    if route == "monitoring:contact_correct":
        contact = Contact.objects.get(case=cast.case, summary=contact_sentinel(probe.category))
        when = timezone.localtime() - datetime.timedelta(hours=2)
        data = {
            "kind": "call",
            "outcome": "did_not_attend",
            "occurred_at": when.strftime("%Y-%m-%dT%H:%M"),
            "summary": "" if invalid else MATRIX_TEXT,
            "reason": "MATRIX-REASON",
            "version": "1",
        }
        return reverse(route, args=[pk, contact.pk]), _versioned(data, "version", variant)
    if route == "monitoring:condition_create":
        text = "" if invalid else MATRIX_TEXT
        return reverse(route, args=[pk]), {"condition-text": text, "condition-starts_on": today}
    if route == "monitoring:breach_create":
        return reverse(route, args=[pk]), {
            "breach-condition": str(ids["condition_pk"]),
            "breach-occurred_on": today,
            "breach-description": "" if invalid else MATRIX_TEXT,
        }
    if route == "monitoring:condition_end":
        data = _versioned({"version": "1"}, "version", variant)
        return reverse(route, args=[pk, ids["condition_pk"]]), data
    if route == "monitoring:signal_create":
        return reverse(route, args=[pk]), {
            "signal-severity": "high",
            "signal-category": probe.category or "",
            "signal-description": "" if invalid else MATRIX_TEXT,
        }
    if route == "monitoring:signal_acknowledge":
        prefix = f"ack-{ids['signal_pk']}"
        data = {f"{prefix}-note": "" if invalid else MATRIX_TEXT, f"{prefix}-version": "1"}
        return reverse(route, args=[pk, ids["signal_pk"]]), _versioned(
            data, f"{prefix}-version", variant
        )
    if route == "monitoring:signal_close":
        data = _versioned({"version": "1"}, "version", variant)
        return reverse(route, args=[pk, ids["signal_pk"]]), data
    return reverse(route, args=[pk]), {}


def matrix_allowed(probe: Any, read: frozenset[str], write: frozenset[str]) -> bool | int:
    """Whether the actor may make the probe's change (or the status to answer at once),
    from the oracle's read and write categories on K. The planted condition and
    signal are justice; every user was alerted of the signal."""
    match probe.route:
        case "monitoring:case_monitoring":
            return 200
        case "monitoring:contact_create" | "monitoring:signal_create":
            return probe.category in write
        case "monitoring:contact_correct":
            if probe.category not in read:
                return 404
            return 200 if probe.method == "GET" else probe.category in write
        case "monitoring:condition_create" | "monitoring:breach_create":
            return "justice" in write
        case "monitoring:condition_end" | "monitoring:signal_close":
            if "justice" not in read:
                return 404
            return "justice" in write
        case "monitoring:signal_acknowledge":
            if "justice" not in read:
                return 404
            # A recipient acknowledges without the category's write grant, with
            # a role that writes on a case they reach.
            return bool(write)
    raise AssertionError(f"no expectation for {probe}")


def matrix_effect(cast: Cast, probe: Any, user_pk: int) -> None:
    """The change an accepted monitoring write must have made."""
    from prepare.monitoring.models import Breach, Signal

    ids = monitoring_ids(cast.case)
    match probe.route:
        case "monitoring:contact_create":
            made = Contact.objects.filter(summary=MATRIX_TEXT)
            assert list(made.values_list("category", "who_id")) == [(probe.category, user_pk)]
        case "monitoring:contact_correct":
            contact = Contact.objects.get(
                case=cast.case, category=probe.category, who=cast.coordinator
            )
            assert (contact.summary, contact.outcome, contact.version, contact.updated_by_id) == (
                MATRIX_TEXT,
                "did_not_attend",
                2,
                user_pk,
            )
            [kept] = contact.versions.all()
            assert (kept.version, kept.summary, kept.corrected_by_id, kept.reason) == (
                1,
                contact_sentinel(probe.category),
                user_pk,
                "MATRIX-REASON",
            )
        case "monitoring:condition_create":
            made = LicenceCondition.objects.filter(text=MATRIX_TEXT)
            assert list(made.values_list("created_by_id", flat=True)) == [user_pk]
        case "monitoring:breach_create":
            made = Breach.objects.filter(description=MATRIX_TEXT)
            assert list(made.values_list("condition_id", "reported_by_id")) == [
                (ids["condition_pk"], user_pk)
            ]
        case "monitoring:condition_end":
            condition = LicenceCondition.objects.get(pk=ids["condition_pk"])
            assert (condition.ends_on, condition.version) == (timezone.localdate(), 2)
        case "monitoring:signal_create":
            signal = Signal.objects.get(description=MATRIX_TEXT)
            assert (signal.category, signal.raised_by_id, signal.escalated) == (
                probe.category,
                user_pk,
                True,
            )
        case "monitoring:signal_acknowledge":
            signal = Signal.objects.get(pk=ids["signal_pk"])
            assert (signal.status, signal.acknowledged_by_id) == ("acknowledged", user_pk)
            assert not signal.alerts.filter(closed_at__isnull=True).exists()
        case "monitoring:signal_close":
            signal = Signal.objects.get(pk=ids["signal_pk"])
            assert (signal.status, signal.closed_by_id) == ("closed", user_pk)
        case _:
            raise AssertionError(f"{probe} is not a write")


def matrix_shows(cast: Cast, probe: Any, read: frozenset[str], body: str) -> None:
    """A monitoring page that may show data does show it."""
    match probe.route:
        case "monitoring:case_monitoring" if probe.variant == "K":
            assert [c for c in ALL if (sentinel(c) in body) != (c in read)] == []
        case "monitoring:alerts":
            # The planted justice signal alerts everyone; the policy shows it to its readers.
            assert (cast.case.reference in body) is ("justice" in read)
            assert (SIGNAL_TEXT in body) is ("justice" in read)
        case "monitoring:contact_create" | "monitoring:signal_create" if probe.htmx:
            assert MATRIX_TEXT in body
        case "monitoring:contact_correct" if probe.method == "GET":
            assert contact_sentinel(probe.category) in body


# --- The audit coverage's writes (tests/test_audit_coverage.py) -----------------------------


def coverage_payload(cast: Cast, route: str) -> dict[str, Any]:
    """What a write of ``route`` sends (K's monitoring planted first, for the ids)."""
    plant_monitoring(cast)
    ids = monitoring_ids(cast.case)
    today = timezone.localdate().isoformat()
    when = timezone.localtime() - datetime.timedelta(hours=3)
    payloads: dict[str, dict[str, Any]] = {
        "monitoring:contact_create": {
            "contact-category": "justice",
            "contact-kind": "call",
            "contact-occurred_at": when.strftime("%Y-%m-%dT%H:%M"),
            "contact-summary": "WRITE-X",
        },
        "monitoring:contact_correct": {
            "kind": "call",
            "outcome": "cancelled",
            "occurred_at": when.strftime("%Y-%m-%dT%H:%M"),
            "summary": "WRITE-X",
            "reason": "Wrong kind",
            "version": "1",
        },
        "monitoring:condition_create": {"condition-text": "WRITE-X", "condition-starts_on": today},
        "monitoring:condition_end": {"version": "1"},
        "monitoring:breach_create": {
            "breach-condition": ids["condition_pk"],
            "breach-occurred_on": today,
            "breach-description": "WRITE-X",
        },
        "monitoring:signal_create": {
            "signal-severity": "urgent",
            "signal-category": "risk",
            "signal-description": "WRITE-X",
        },
        "monitoring:signal_acknowledge": {
            f"ack-{ids['signal_pk']}-note": "WRITE-X",
            f"ack-{ids['signal_pk']}-version": "1",
        },
        "monitoring:signal_close": {"version": "1"},
        "v1_case_contacts": {
            "category": "justice",
            "kind": "meeting",
            "occurred_at": when.isoformat(),
            "summary": "WRITE-X",
        },
        "v1_contact": {"summary": "WRITE-X"},
        "v1_case_licence_conditions": {"text": "WRITE-X", "starts_on": today},
        "v1_licence_condition_breaches": {"occurred_on": today, "description": "WRITE-X"},
        "v1_case_signals": {"severity": "high", "description": "WRITE-X"},
        "v1_signal_acknowledge": {"note": "WRITE-X", "version": 1},
    }
    return payloads[route]
