"""The lifecycle routes in the route matrix and the audit coverage tables.

``tests/test_route_matrix.py`` lists the probes of each route in its TABLE and
asks this module how to send them (``matrix_request``), what the oracle's
access calls for (``matrix_expected``), what an accepted write must have done
(``matrix_effect``) and what a page must show (``matrix_shows``). Expectations
come from the oracle's ``Access`` (``tests.routes_table.access``) and the rules
in PRODUCT.md, never from ``prepare.access``:

- a case's status is moved by who may write on it *and* write the meetings
  category (the record of a move is a meetings record);
- key dates (category justice) are set by who may write on the case and
  write justice;
- triage is the coordinator's (of the case's partnership);
- a case is referred by who may write identity in the partnership (in the
  cast, exactly those who write identity on K: K is in the same partnership
  and every organisation writing identity there reaches it).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone

from prepare.cases.models import (
    Case,
    CaseTransition,
    KeyDate,
    Person,
    Referral,
    TriageDecision,
)
from tests.cast import Cast

REFERRAL_REASON = "MATRIX-REFERRAL-REASON"
MOVE_REASON = "MATRIX-MOVE-REASON"
DUPLICATE_ID = "MATRIX-PRISON-NO-42"
ROUTES = frozenset(
    {
        "cases:referral_create",
        "cases:triage_queue",
        "cases:triage_decide",
        "cases:lifecycle_section",
        "cases:transition",
        "cases:key_dates",
    }
)
WRITE_EVENTS = {
    "cases:referral_create": "create",
    "cases:transition": "update",
    "cases:key_dates": "create",
    "cases:triage_decide": "create",
}
# A referral writes the case (with its person) and the referral: two events.
WRITE_COUNTS = {"cases:referral_create": 2}
# The key date planted in the scene for K (``plant_key_date``).
SCENE_KEY_DATE = "sentence_start"


def plant_key_date(cast: Cast) -> KeyDate:
    """K's sentence start, version 1, written directly (no event)."""
    key_date, _ = KeyDate.objects.get_or_create(
        case=cast.case,
        kind=SCENE_KEY_DATE,
        defaults={"date": datetime.date(2023, 9, 1), "updated_by": cast.coordinator},
    )
    return key_date


def key_date_id(case: Case) -> int:
    """K's planted key date, or an id that exists nowhere."""
    found = KeyDate.objects.filter(case=case, kind=SCENE_KEY_DATE).values_list("pk", flat=True)
    return found.first() or 987_654


def referral_form(cast: Cast, **changes: str) -> dict[str, str]:
    data = {
        "partnership": str(cast.partnership.pk),
        "referrer_type": "court",
        "referring_organisation": "",
        "given_name": "Matrix",
        "family_name": "Newperson",
        "birth_date": "1991-01-01",
        "identifier": "",
        "data_subject_category": "convicted",
        "reason": REFERRAL_REASON,
        "reason_category": "risk",
        "decision": "",
    }
    data.update(changes)
    return data


def matrix_request(cast: Cast, probe: Any, pk: int) -> tuple[str, dict[str, str]]:
    k = cast.case
    match probe.route:
        case "cases:referral_create":
            data = referral_form(cast)
            if probe.variant == "invalid":
                data["family_name"] = ""
            elif probe.variant == "duplicate":
                # K's person, found by identifier: the name typed is another, so
                # that a form sent back with errors echoes nothing of K.
                Person.objects.filter(pk=k.person_id).update(identifier=DUPLICATE_ID)
                data["identifier"] = DUPLICATE_ID
            return reverse(probe.route), data
        case "cases:triage_queue":
            return reverse(probe.route), {}
        case "cases:triage_decide":
            data = {"outcome": "more_information", "reasons": MOVE_REASON, "version": "1"}
            if probe.variant == "invalid":
                data["reasons"] = ""
            elif probe.variant == "stale":
                data["version"] = "7"
            return reverse(probe.route, args=[pk]), data
        case "cases:transition":
            data = {
                "to_status": "community",
                "reason": MOVE_REASON,
                "version": "1",
                "confirm": "on",
            }
            if probe.variant == "invalid":
                data["reason"] = ""
            elif probe.variant == "refused":
                data["to_status"] = "archived"
            elif probe.variant == "stale":
                data["version"] = "7"
            elif probe.variant == "no_version":
                del data["version"]
            return reverse(probe.route, args=[pk]), data
        case "cases:key_dates":
            data = {"kind": "next_review", "date": "2027-01-15", "version": ""}
            if probe.variant == "invalid":
                data["date"] = "soon"
            elif probe.variant == "stale":
                data["version"] = "7"  # a version for a date that is not set
            elif probe.variant == "no_version":
                # Moving the planted date without saying which version was read.
                plant_key_date(cast)
                data["kind"] = SCENE_KEY_DATE
            return reverse(probe.route, args=[pk]), data
    return reverse(probe.route, args=[pk]), {}


def matrix_expected(probe: Any, a: Any, other: Any, ok: int) -> int:
    """The status the oracle's access (``a`` on K, ``other`` on the other
    partnership's case) calls for; methods and 405 are the caller's."""
    if probe.route == "cases:referral_create":
        here = "identity" in a.granted_write  # may refer in K's partnership, team aside
        anywhere = here or "identity" in other.granted_write
        if not anywhere:
            return 403
        if probe.method == "GET":
            return 200
        if probe.variant == "valid":
            return ok if here else 422
        if probe.variant == "duplicate":
            if not here:
                return 422
            # The candidate (K's person) is shown to who reads K's identity, and
            # nothing is created; to anyone else it does not exist.
            return 409 if "identity" in a.read else ok
        return 422
    if probe.route == "cases:triage_queue":
        return 200 if (a.access_log or other.access_log) else 403
    if probe.variant == "other":
        if probe.route == "cases:triage_decide":
            return 200 if other.access_log else (403 if other.sees else 404)
        return 200 if other.sees else 404
    if probe.variant == "missing" or not a.sees:
        return 404
    match probe.route:
        case "cases:lifecycle_section":
            return 200
        case "cases:key_dates":
            if probe.method == "GET":
                return 200
            allowed = "justice" in a.write
        case "cases:transition":
            allowed = "meetings" in a.write
        case "cases:triage_decide":
            # The coordinator's; K is active, so a decision is refused (422).
            if not (a.access_log and "meetings" in a.write):
                return 403
            if probe.method == "GET":
                return 200
            return 409 if probe.variant == "stale" else 422
        case _:
            raise AssertionError(f"no expectation for {probe}")
    if not allowed:
        return 403
    failure = {"invalid": 422, "refused": 422, "stale": 409, "no_version": 428}
    return failure.get(probe.variant, ok)


def matrix_effect(cast: Cast, probe: Any, user_pk: int) -> None:
    k = cast.case
    match probe.route:
        case "cases:referral_create":
            referral = Referral.objects.select_related("case__person").get(reason=REFERRAL_REASON)
            assert (referral.created_by_id, referral.case.status) == (user_pk, "referred")
            assert referral.case.person.family_name == "Newperson"
        case "cases:transition":
            k.refresh_from_db()
            assert (k.status, k.version) == ("community", 2)
            move = CaseTransition.objects.get(case=k)
            assert (move.actor_id, move.reason) == (user_pk, MOVE_REASON)
        case "cases:key_dates":
            date = KeyDate.objects.get(case=k, kind="next_review")
            assert (date.date, date.version, date.updated_by_id) == (
                datetime.date(2027, 1, 15),
                1,
                user_pk,
            )
        case _:
            raise AssertionError(f"{probe} is not a write")


def matrix_shows(cast: Cast, probe: Any, a: Any, body: str) -> None:
    k = cast.case
    match probe.route:
        case "cases:referral_create" if probe.variant == "duplicate":
            assert k.reference in body  # the candidate, seen with identity
            assert f'value="{k.person_id}"' in body
        case "cases:lifecycle_section" if probe.variant == "K":
            assert 'id="lifecycle"' in body
            assert ('name="to_status"' in body) is ("meetings" in a.write)
        case "cases:key_dates" if probe.variant == "K":
            assert 'id="key-dates"' in body
            assert ("not shared with your organisation" in body) is ("justice" not in a.read)
        case "cases:triage_decide" if probe.variant == "K":
            assert k.reference in body
            assert ("Sentinelia" in body) is ("identity" in a.read)


def lifecycle_state() -> dict[str, Any]:
    """Every lifecycle table a request could change."""
    return {
        "persons": sorted(Person.objects.values_list("pk", "given_name", "family_name")),
        "referrals": sorted(Referral.objects.values_list("pk", "case_id", "reason")),
        "triage": sorted(TriageDecision.objects.values_list("pk", "case_id", "outcome")),
        "transitions": sorted(CaseTransition.objects.values_list("pk", "case_id", "to_status")),
        "key_dates": sorted(
            KeyDate.objects.values_list("pk", "case_id", "kind", "date", "version")
        ),
    }


def put_in_triage(case: Case) -> None:
    """K waits for triage (for the audit coverage's triage write)."""
    Case.objects.filter(pk=case.pk).update(status="triage", updated_at=timezone.now())
