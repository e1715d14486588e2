"""Shared by the route matrix and the audit coverage test.

- ``routes()``: every route of the URL resolver, with its name and policy, so
  that a route added anywhere shows up in both tests at once;
- ``Scene.access()``: the oracle's answer (``tests.oracle``) for the scene as
  built, once per actor and case;
- ``built_once()``: the cast built once per test module inside an outer
  transaction; each test runs in a savepoint of it and is rolled back;
- ``leaks()``: the sentinel scan of a response body.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from prepare.access.categories import Category
from prepare.access.grants import case_grants_rebuild
from prepare.access.models import BreakGlassAccess
from prepare.accounts.middleware import policy_of_view
from prepare.accounts.models import IdentityProvider, User
from prepare.cases.models import Case, CaseTeamMember, LegalHold, Transfer
from prepare.partnerships.models import Membership
from tests.assessments import support as assessment_support
from tests.assessments.matrix import assessment_ids, plant_assessments
from tests.assessments.over_time_matrix import url_values as assessment_url_values
from tests.cases.lifecycle_matrix import key_date_id, plant_key_date
from tests.cast import Cast, build_cast, sentinel
from tests.documents.support import document_ids
from tests.factories import PersonFactory
from tests.monitoring.support import monitoring_ids
from tests.notifications.scene import notification_id_of, plant_notification
from tests.oracle import ACTORS, CATEGORIES, Access, access, users_of
from tests.plans.support import item_id_of, template_item_id_of

IDENTITY_MARKERS = ("Sentinelia", "Identitas")

# --- Routes ------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteInfo:
    name: str  # "namespace:name", or the pattern when unnamed
    pattern: str
    policy: str | None


def routes() -> list[RouteInfo]:
    """Every route the resolver knows, followed through ``include()``."""

    def walk(
        patterns: Sequence[URLPattern | URLResolver], prefix: str, spaces: tuple[str, ...]
    ) -> Iterator[RouteInfo]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = (*spaces, entry.namespace) if entry.namespace else spaces
                yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
                continue
            pattern = prefix + str(entry.pattern)
            name = ":".join((*spaces, entry.name)) if entry.name else pattern
            yield RouteInfo(name, pattern, policy_of_view(entry.callback))

    return list(walk(get_resolver().url_patterns, "", ()))


UNLISTED_METHODS = {"HEAD", "OPTIONS"}


def allowed_methods(client: Client, url: str) -> frozenset[str]:
    """The methods a route accepts, from the ``Allow`` header of its 405 answer.

    TRACE is accepted by no view here; the method check runs before any
    lookup, so the answer does not depend on the ids in ``url``.
    """
    response = client.generic("TRACE", url)
    assert response.status_code == 405, (url, response.status_code)
    methods = {m.strip().upper() for m in response["Allow"].split(",") if m.strip()}
    return frozenset(methods - UNLISTED_METHODS)


# --- The scene: the cast, plus every other actor of the oracle -------------------------


@dataclass
class Scene:
    cast: Cast
    users: dict[str, User]
    # A second case of the cast's partnership, whose team is the police: the
    # coordinator and the police see it, so ids of K and K2 can be mixed up.
    k2: Case
    _expected: dict[tuple[str, int], Access] = field(default_factory=dict)
    # An open transfer of a third case K3 (nothing of K) from the cast's
    # partnership to the other one: its package is the outsider's to see.
    transfer: Transfer | None = None

    @property
    def case(self) -> Case:
        return self.cast.case

    def user(self, name: str) -> User:
        """A fresh object: nothing cached from an earlier request or check."""
        return User.objects.get(pk=self.users[name].pk)

    def access(self, actor: str, case: Case) -> Access:
        """The oracle's answer for the scene as built (every test starts from
        it), worked out once per module. Call it before changing anything."""
        key = (actor, case.pk)
        if key not in self._expected:
            self._expected[key] = access(self.cast, self.user(actor), case)
        return self._expected[key]


def build_scene() -> Scene:
    """The cast, plus the oracle's other actors (``tests.oracle.ACTORS``), two of
    them police officers off K's team who opened emergency access to K, one
    still running and one expired; a second case K2 in the same partnership,
    with the police on its team; and two completed assessments of K (risk by
    the police, needs by probation) whose evidence holds their sentinels."""
    cast = build_cast()
    users = users_of(cast)
    police = cast.orgs["police"]
    now = timezone.now()
    for name, expires_at in (
        ("police_glass", now + datetime.timedelta(hours=23)),
        ("police_glass_expired", now - datetime.timedelta(minutes=1)),
    ):
        BreakGlassAccess.objects.create(
            user=users[name],
            case=cast.case,
            justification="Imminent threat reported by the night shift",
            created_at=expires_at - datetime.timedelta(hours=24),
            expires_at=expires_at,
        )
    k2 = Case.objects.create(
        person=PersonFactory(),
        partnership=cast.partnership,
        reference="TST-2026-0002",
        status="community",
    )
    CaseTeamMember.objects.create(case=k2, organisation=police, purpose="Risk")
    case_grants_rebuild(k2)
    assert set(users) == set(ACTORS)
    k3 = Case.objects.create(
        person=PersonFactory(),
        partnership=cast.partnership,
        reference="TST-2026-0003",
        status="community",
    )
    case_grants_rebuild(k3)
    transfer = Transfer.objects.create(
        case=k3,
        from_partnership=cast.partnership,
        to_partnership=cast.other_partnership,
        handover_summary="Moves to Elsewhere next month.",
        summary_category="social",
        categories=["social", "justice"],
        proposed_by=cast.coordinator,
    )
    # K's sentence start: a key date (justice) to read and move by id.
    plant_key_date(cast)
    # The case manager's unread reminder about K (the notifications API).
    plant_notification(cast)
    # A pending change of the agreement (the pages and API of four eyes).
    plant_access_change(cast)
    # The example instruments, and K's risk and social assessments, completed
    # and draft (``tests.assessments.matrix``).
    plant_assessments(cast)
    # K's risk (police) and needs (probation) assessments, sentinels in their
    # evidence (``tests.assessments.support``: the API's routes).
    assessment_support.plant_assessments(cast)
    return Scene(cast=cast, users=users, k2=k2, transfer=transfer)


@contextmanager
def built_once(django_db_blocker: Any) -> Iterator[Scene]:
    """The scene, built once inside a transaction that is rolled back at the end.

    pytest-django runs each test in a savepoint of it (the ``db`` fixture), so
    a test sees the scene as built and leaves nothing behind.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with override_settings(
                PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]
            ):
                scene = build_scene()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    try:
        yield scene
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


# --- Leaks -----------------------------------------------------------------------------


def body_of(response: Any) -> str:
    """What an answer shows, as text: a page or JSON, a streamed file (a download)
    read to its end, a PDF (the case summary) as the text pypdf extracts."""
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    if raw.startswith(b"%PDF"):
        import io

        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(raw))
        return "\n".join(page.extract_text() or "" for page in reader.pages)
    # Search marks the words that matched: the text without the marks.
    return raw.decode("utf-8", errors="replace").replace("<mark>", "").replace("</mark>", "")


def leaks(
    body: str, allowed: frozenset[str] | set[str], *, reference: str | None = None
) -> list[str]:
    """What ``body`` shows that a reader of only ``allowed`` may not see.

    The sentinel of every other category; the person's name without identity;
    and, with ``reference``, the case's reference (for an actor who does not
    reach the case, whose existence must not show).
    """
    found = [c for c in CATEGORIES if c not in allowed and sentinel(c) in body]
    if Category.IDENTITY not in allowed:
        found += [m for m in IDENTITY_MARKERS if m in body]
    if reference is not None and reference in body:
        found.append(reference)
    return found


# --- URLs ----------------------------------------------------------------------------


def hold_id_of(case: Case) -> int:
    """The id of the case's latest legal hold, or an id that exists nowhere."""
    pk = LegalHold.objects.filter(case=case).order_by("-pk").values_list("pk", flat=True).first()
    return pk if pk is not None else 987_654


def access_change_id_of(partnership: Any) -> int:
    """The id of the partnership's latest change of access, or an id that exists nowhere."""
    from prepare.partnerships.models import AccessChangeRequest

    pk = (
        AccessChangeRequest.objects.filter(partnership=partnership)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    return pk if pk is not None else 987_654


def plant_access_change(cast: Cast) -> None:
    """A pending widening of the cast's agreement (the NGO would read health),
    proposed by the coordinator: the auditor (the DPO) may decide it."""
    from prepare.partnerships.models import AccessChangeRequest
    from prepare.partnerships.services import agreement_digest

    AccessChangeRequest.objects.create(
        kind="agreement",
        partnership=cast.partnership,
        payload={
            "agreement": cast.agreement.pk,
            "cells": [
                {
                    "organisation": cast.orgs["ngo"].pk,
                    "category": "health",
                    "from": "",
                    "to": "read",
                }
            ],
        },
        base=agreement_digest(cast.agreement),
        proposed_by=cast.coordinator,
    )


def provider_id_of() -> int:
    """The id of the latest identity provider, or an id that exists nowhere."""
    pk = IdentityProvider.objects.order_by("-pk").values_list("pk", flat=True).first()
    return pk if pk is not None else 987_654


def instrument_version_id_of() -> int:
    """The id of the latest loaded instrument version, or an id that exists nowhere."""
    from prepare.assessments.models import InstrumentVersion

    pk = InstrumentVersion.objects.order_by("-pk").values_list("pk", flat=True).first()
    return pk if pk is not None else 987_654


def training_record_id_of(user: User) -> int:
    """The id of the user's latest training record, or an id that exists nowhere."""
    from prepare.accounts.models import TrainingRecord

    pk = (
        TrainingRecord.objects.filter(user=user)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    return pk if pk is not None else 987_654


def url_for(scene: Scene, route: RouteInfo, **override: int) -> str:
    """A URL of ``route`` about the cast's case K (or its partnership).

    A parameter this does not know fails: a new route gets a value here before
    the tests that walk the resolver can pass.
    """
    cast = scene.cast
    k = scene.case
    ngo = CaseTeamMember.objects.get(case=k, organisation=cast.orgs["ngo"])
    partnership_pages = route.name.startswith(("partnerships:", "administration:"))
    provider_pages = route.name.startswith("accounts:identity_provider")
    # The NGO's membership of the cast's partnership; an organisation outside it.
    membership = Membership.objects.get(partnership=cast.partnership, organisation=cast.orgs["ngo"])
    elsewhere = cast.orgs["elsewhere"].pk
    pk = cast.partnership.pk if partnership_pages else provider_id_of() if provider_pages else k.pk
    if route.name.startswith("administration:organisation"):
        pk = elsewhere
    values = {
        "pk": pk,
        "membership_pk": membership.pk,
        "membership_id": membership.pk,
        "agreement_pk": cast.agreement.pk,
        "agreement_id": cast.agreement.pk,
        "case_id": k.pk,
        "note_pk": cast.notes["justice"].pk,
        "note_id": cast.notes["justice"].pk,
        "member_pk": ngo.pk,
        "member_id": ngo.pk,
        # A checklist item of K if one is planted, else an id that exists nowhere.
        "item_pk": item_id_of(k),
        "item_id": item_id_of(k),
        # The partnership's template (its first item once the template exists).
        "partnership_id": cast.partnership.pk,
        "template_item_pk": template_item_id_of(cast.partnership),
        "template_item_id": template_item_id_of(cast.partnership),
        "transfer_pk": scene.transfer.pk if scene.transfer else 987_654,
        "transfer_id": scene.transfer.pk if scene.transfer else 987_654,
        # K's contact, condition and signal if planted, else ids that exist nowhere.
        **monitoring_ids(k),
        "key_date_id": key_date_id(k),
        # The case manager's planted notification (about K).
        "notification_id": notification_id_of(cast.case_manager),
        # K's latest legal hold if one is planted, else an id that exists nowhere.
        "hold_id": hold_id_of(k),
        # The change of the agreement the scene proposes (or an id that exists nowhere).
        "access_change_pk": access_change_id_of(cast.partnership),
        "access_change_id": access_change_id_of(cast.partnership),
        # K's justice document (the cast holds one per category).
        **document_ids(k),
        # K's first risk assessment if planted (else an id that exists nowhere),
        # and the risk instrument (the pages over time).
        **assessment_url_values(k),
        # K's risk draft (the draft's pages) or completed risk assessment.
        **assessment_ids(k, route.name),
        # K's assessments (the scene's two, or a draft a test planted) and an
        # instrument version.
        **assessment_support.assessment_ids(k),
        # The staff pages and accounts API: the probation service; the
        # administration's organisation pages: one outside the partnership.
        "organisation_id": (
            elsewhere
            if route.name == "v1_organisation" or route.name.startswith("administration:")
            else cast.orgs["probation"].pk
        ),
        "account_id": cast.case_manager.pk,
        # An enrolment link that exists nowhere (the page answers the same for any).
        "link_id": "00000000-0000-4000-8000-000000000000",
        # A user whose sessions an administrator ends (no case data).
        "user_id": cast.case_manager.pk,
        # The latest identity provider if one is planted (single sign-on settings).
        "provider_id": provider_id_of(),
        # The administrator's instruments: the latest version loaded, if any.
        "instrument_version_id": instrument_version_id_of(),
        # The case manager's latest training record (their account page), if any.
        "training_record_id": training_record_id_of(cast.case_manager),
        **override,
    }
    params = re.findall(r"<(?:\w+:)?(\w+)>", route.pattern)
    unknown = [p for p in params if p not in values]
    assert unknown == [], f"{route.name}: no value for {unknown}"
    return reverse(route.name, kwargs={p: values[p] for p in params})
