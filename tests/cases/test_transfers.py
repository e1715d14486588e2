"""Transfer of a case to another partnership (issue 3, item 7).

The cast's case K moves from the Testdam partnership (coordinated by the
municipality) to the Elsewhere partnership (coordinated by the outsider's
organisation). The receiver's agreement is narrowed to ``RECEIVER`` so that
"only its categories" can fail.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from prepare.access import grants as grants_module
from prepare.access.categories import Category
from prepare.access.errors import WriteForbidden
from prepare.access.models import CaseGrant
from prepare.access.policy import grants_for
from prepare.accounts.models import Role, User
from prepare.audit import chain
from prepare.audit import selectors as audit_selectors
from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction
from prepare.cases.models import (
    Case,
    CaseNote,
    CaseStatus,
    CaseTeamMember,
    Transfer,
    TransferGrace,
    TransferStatus,
)
from prepare.cases.transfer import selectors as transfer_selectors
from prepare.cases.transfer import services as transfer_services
from prepare.partnerships.models import CategoryGrant, LegalBasis, SharingAgreement
from tests.cast import AGREEMENT, Cast, sentinel
from tests.factories import PersonFactory, UserFactory

HX = {"HTTP_HX_REQUEST": "true"}
SUMMARY = "Moves to Elsewhere on the first; housing arranged with his sister."
# What the Elsewhere agreement grants the receiving (coordinating) organisation.
RECEIVER = frozenset({Category.IDENTITY, Category.JUSTICE, Category.SOCIAL, Category.MEETINGS})
ALL = frozenset(Category.values)


def narrow_receiver(cast: Cast, categories: frozenset[str] = RECEIVER) -> SharingAgreement:
    """Keep only ``categories`` in the Elsewhere agreement, and give it its own legal basis."""
    agreement = SharingAgreement.objects.get(partnership=cast.other_partnership)
    CategoryGrant.objects.filter(agreement=agreement).exclude(category__in=categories).delete()
    SharingAgreement.objects.filter(pk=agreement.pk).update(
        legal_basis=LegalBasis.STATUTE, legal_reference="Municipalities Act art. 12"
    )
    agreement.refresh_from_db()
    return agreement


def propose(cast: Cast, *, category: str = Category.SOCIAL, case: Case | None = None) -> Transfer:
    return transfer_services.transfer_propose(
        actor=cast.coordinator,
        case_id=(case or cast.case).pk,
        to_partnership_id=cast.other_partnership.pk,
        handover_summary=SUMMARY,
        summary_category=category,
    )


def fresh(user: User) -> User:
    """The user without grants cached from an earlier call."""
    return User.objects.get(pk=user.pk)


def shown(body: str) -> set[str]:
    return {c for c in Category.values if sentinel(c) in body}


def state(case: Case) -> dict[str, Any]:
    """Everything an acceptance changes."""
    return {
        "case": list(Case.objects.filter(pk=case.pk).values_list("partnership_id", "version")),
        "team": sorted(
            CaseTeamMember.objects.filter(case=case).values_list("pk", "organisation_id")
        ),
        "grants": sorted(
            CaseGrant.objects.filter(case=case).values_list(
                "organisation_id", "partnership_id", "coordination", "whole_organisation"
            )
        ),
        "graces": sorted(TransferGrace.objects.values_list("case_id", "organisation_id")),
        "transfers": sorted(Transfer.objects.values_list("pk", "status")),
        "events": Event.objects.count(),
    }


# --- Proposing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "refusal"),
    [
        ("case_manager", WriteForbidden),  # sees K, does not coordinate
        ("police_on_team", WriteForbidden),
        ("police_off_team", Http404),
        ("auditor", Http404),
        ("outsider", Http404),
    ],
)
def test_only_the_coordinator_proposes(cast, actor, refusal):
    with pytest.raises(refusal):
        transfer_services.transfer_propose(
            actor=cast.actors[actor],
            case_id=cast.case.pk,
            to_partnership_id=cast.other_partnership.pk,
            handover_summary=SUMMARY,
            summary_category=Category.SOCIAL,
        )
    assert not Transfer.objects.exists()
    assert not Event.objects.filter(action=EventAction.TRANSFER).exists()


def test_the_coordinator_proposes_and_the_event_names_recipient_and_legal_basis(cast):
    transfer = propose(cast)

    transfer.refresh_from_db()
    assert (transfer.status, transfer.from_partnership_id, transfer.to_partnership_id) == (
        TransferStatus.PROPOSED,
        cast.partnership.pk,
        cast.other_partnership.pk,
    )
    (event,) = Event.objects.filter(action=EventAction.TRANSFER)
    assert (event.case_id, event.actor_id, event.category) == (
        cast.case.pk,
        cast.coordinator.pk,
        Category.SOCIAL,
    )
    assert event.detail["step"] == "proposed"
    assert event.detail["to_partnership"] == cast.other_partnership.pk
    assert event.detail["recipient_organisation"] == cast.orgs["elsewhere"].pk
    assert event.detail["sending_agreement"] == cast.agreement.pk
    assert event.detail["sending_legal_basis"] == cast.agreement.legal_basis
    assert event.detail["sending_legal_reference"] == cast.agreement.legal_reference
    assert SUMMARY not in str(event.detail)
    # Proposing changes nothing of the case.
    cast.case.refresh_from_db()
    assert cast.case.partnership_id == cast.partnership.pk
    assert verify() is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"to_partnership_id": "own"}, "to_partnership"),
        ({"to_partnership_id": 987_654}, "to_partnership"),
        ({"to_partnership_id": "x"}, "to_partnership"),
        ({"handover_summary": "   "}, "handover_summary"),
        ({"summary_category": "gossip"}, "summary_category"),
    ],
)
def test_a_bad_proposal_is_refused(cast, change, field):
    kwargs: dict[str, Any] = {
        "actor": cast.coordinator,
        "case_id": cast.case.pk,
        "to_partnership_id": cast.other_partnership.pk,
        "handover_summary": SUMMARY,
        "summary_category": Category.SOCIAL,
        **change,
    }
    if kwargs["to_partnership_id"] == "own":
        kwargs["to_partnership_id"] = cast.partnership.pk
    with pytest.raises(transfer_services.TransferRefused) as refused:
        transfer_services.transfer_propose(**kwargs)
    assert list(refused.value.message_dict) == [field]
    assert not Transfer.objects.exists()


def test_one_open_proposal_per_case_and_no_category_the_coordinator_cannot_write(cast):
    propose(cast)
    with pytest.raises(transfer_services.TransferRefused):
        propose(cast)
    # The municipality may not write intelligence: no summary in it.
    other = Case.objects.create(
        person=PersonFactory(), partnership=cast.partnership, reference="TST-2026-0042"
    )
    grants_module.case_grants_rebuild(other)
    with pytest.raises(WriteForbidden):
        propose(cast, case=other, category=Category.INTELLIGENCE)
    assert Transfer.objects.count() == 1


def test_a_closed_case_is_not_transferred(cast):
    Case.objects.filter(pk=cast.case.pk).update(status=CaseStatus.CLOSED)
    with pytest.raises(transfer_services.TransferRefused):
        propose(cast)


# --- What the receiver sees before accepting -----------------------------------------


def test_the_package_holds_only_what_the_receivers_agreement_grants(cast, as_user):
    narrow_receiver(cast)
    transfer = propose(cast)
    client = as_user(cast.outsider)

    response = client.get(reverse("cases:transfer_decide", args=[transfer.pk]))

    assert response.status_code == 200
    body = response.content.decode()
    assert SUMMARY in body  # social is granted
    assert "Sentinelia Identitas" in body  # identity is granted
    assert shown(body) == set()  # counts, never the records themselves
    for category in ALL:
        label = str(Category(category).label)
        assert (f'<th scope="row">{label}</th>' in body) is (category in RECEIVER), category
    view = transfer_selectors.transfer_package(actor=fresh(cast.outsider), transfer_id=transfer.pk)
    # The cast holds a note and a document per category.
    assert [(c.category, c.records) for c in view.categories or []] == [
        (c, 2) for c in Category.values if c in RECEIVER
    ]
    event = Event.objects.filter(action=EventAction.VIEW, actor_id=cast.outsider.pk).first()
    assert event is not None
    assert (event.case_id, event.detail["view"]) == (cast.case.pk, "transfer_package")
    assert event.category == Category.IDENTITY
    # Before accepting, the case itself does not exist for the receiver.
    for name in ("cases:case", "cases:transfer_section", "cases:team"):
        assert client.get(reverse(name, args=[cast.case.pk])).status_code == 404, name


def test_the_package_hides_a_summary_and_identity_not_granted(cast):
    narrow_receiver(cast, frozenset({Category.JUSTICE}))
    transfer = propose(cast, category=Category.HEALTH)

    view = transfer_selectors.transfer_package(actor=fresh(cast.outsider), transfer_id=transfer.pk)

    assert (view.summary, view.person) == (None, None)
    assert [c.category for c in view.categories or []] == [Category.JUSTICE]


@pytest.mark.parametrize("actor", ["case_manager", "police_on_team", "police_off_team", "auditor"])
def test_nobody_else_sees_the_transfer(cast, as_user, actor):
    transfer = propose(cast)
    client = as_user(cast.actors[actor])
    for name in ("cases:transfer_decide",):
        assert client.get(reverse(name, args=[transfer.pk])).status_code == 404
    body = client.get(reverse("cases:transfer_inbox")).content.decode()
    assert SUMMARY not in body and cast.case.reference not in body


def test_the_sender_sees_the_transfer_but_cannot_decide_it(cast, as_user):
    transfer = propose(cast)
    client = as_user(cast.coordinator)

    page = client.get(reverse("cases:transfer_decide", args=[transfer.pk]))
    accept = client.post(
        reverse("cases:transfer_decide", args=[transfer.pk]), {"decision": "accept"}
    )

    assert (page.status_code, accept.status_code) == (403, 403)
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.PROPOSED
    outbox = client.get(reverse("cases:transfer_inbox")).content.decode()
    assert cast.case.reference in outbox and "Elsewhere partnership" in outbox


# --- Accepting -----------------------------------------------------------------------


def accept(cast: Cast, as_user: Any, transfer: Transfer) -> Any:
    response = as_user(cast.outsider).post(
        reverse("cases:transfer_decide", args=[transfer.pk]),
        {"decision": "accept", "reason": ""},
    )
    assert response.status_code == 302, response.content.decode()[:500]
    return response


def test_accepting_moves_the_case_to_the_receiving_partnership(cast, as_user):
    narrow_receiver(cast)
    transfer = propose(cast)
    before = Case.objects.get(pk=cast.case.pk).version

    response = accept(cast, as_user, transfer)

    assert response["Location"] == reverse("cases:case", args=[cast.case.pk])
    case = Case.objects.get(pk=cast.case.pk)
    assert (case.partnership_id, case.version) == (cast.other_partnership.pk, before + 1)
    transfer.refresh_from_db()
    assert (transfer.status, transfer.decided_by_id) == (TransferStatus.ACCEPTED, cast.outsider.pk)
    assert not CaseTeamMember.objects.filter(case=case).exists()
    grants = list(
        CaseGrant.objects.filter(case=case).values_list(
            "organisation_id", "partnership_id", "coordination"
        )
    )
    assert grants == [(cast.orgs["elsewhere"].pk, cast.other_partnership.pk, True)]
    # The new coordinator sees the case, and only the categories granted there.
    page = as_user(cast.outsider).get(reverse("cases:case", args=[case.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert shown(body) == RECEIVER
    assert "Sentinelia" in body
    assert case.reference in as_user(cast.outsider).get(reverse("cases:caseload")).content.decode()
    assert verify() is None


def test_the_old_team_keeps_read_only_access_for_the_grace_period(cast, as_user):
    narrow_receiver(cast)
    transfer = propose(cast)
    accept(cast, as_user, transfer)
    k = cast.case

    graces = {
        (org, category)
        for org, category in TransferGrace.objects.filter(case=k).values_list(
            "organisation_id", "category"
        )
    }
    expected = {
        (cast.orgs[key].pk, category) for key, cells in AGREEMENT.items() for category in cells
    }
    assert graces == expected
    until = TransferGrace.objects.filter(case=k).values_list("until", flat=True).distinct()
    (only,) = until
    assert abs(only - (timezone.now() + datetime.timedelta(days=14))) < datetime.timedelta(
        minutes=5
    )

    reads = {
        "coordinator": "municipality",
        "case_manager": "probation",
        "police_on_team": "police",
        "ngo_mentor": "ngo",
    }
    for actor, org in reads.items():
        client = as_user(cast.actors[actor])
        page = client.get(reverse("cases:case", args=[k.pk]))
        assert page.status_code == 200, actor
        body = page.content.decode()
        assert shown(body) == set(AGREEMENT[org]), actor
        assert ("Sentinelia" in body) is (Category.IDENTITY in AGREEMENT[org]), actor
        section = client.get(reverse("cases:transfer_section", args=[k.pk]), **HX)
        assert "Your organisation can read" in section.content.decode(), actor
        # Read only: every write is refused and changes nothing.
        note = client.post(
            reverse("cases:note_create", args=[k.pk]),
            {"category": Category.SOCIAL, "kind": "fact", "text": "after the move"},
        )
        assert note.status_code == 403, actor
        edit = client.post(
            reverse("cases:note_edit", args=[k.pk, cast.notes[Category.SOCIAL].pk]),
            {"kind": "fact", "text": "changed", "version": "1"},
        )
        assert edit.status_code in (403, 404), actor
        assert client.get(reverse("cases:team", args=[k.pk])).status_code == 403, actor
        # Not in the caseload any more: the case is no longer theirs.
        assert k.reference not in client.get(reverse("cases:caseload")).content.decode()
    assert not CaseNote.objects.filter(text="after the move").exists()
    assert CaseNote.objects.get(pk=cast.notes[Category.SOCIAL].pk).version == 1
    # Whoever did not reach the case before does not reach it now: not the
    # named officer's colleagues, not the coordinating organisation's staff
    # who are not coordinators.
    colleague_of_coordinator = UserFactory(
        username="city_case_manager", organisation=cast.orgs["municipality"], role="case_manager"
    )
    for user in (
        cast.actors["auditor"],
        cast.actors["trainer"],
        cast.actors["police_off_team"],
        colleague_of_coordinator,
    ):
        page = as_user(user).get(reverse("cases:case", args=[k.pk]))
        assert page.status_code == 404, user.username
        for note in cast.notes.values():
            assert (
                not CaseNote.objects.visible_to(User.objects.get(pk=user.pk))
                .filter(pk=note.pk)
                .exists()
            ), user.username


def test_after_the_grace_period_the_old_team_gets_404_everywhere(cast, as_user):
    narrow_receiver(cast)
    transfer = propose(cast)
    accept(cast, as_user, transfer)
    k = cast.case

    with time_machine.travel(timezone.now() + datetime.timedelta(days=14, minutes=1), tick=False):
        for actor in ("coordinator", "case_manager", "police_on_team", "ngo_mentor"):
            client = as_user(cast.actors[actor])
            for name in ("cases:case", "cases:transfer_section", "cases:team"):
                response = client.get(reverse(name, args=[k.pk]))
                assert response.status_code == 404, (actor, name)
                assert shown(response.content.decode()) == set()
            note = client.get(
                reverse("cases:note_edit", args=[k.pk, cast.notes[Category.SOCIAL].pk])
            )
            assert note.status_code == 404, actor
        outsider = as_user(cast.outsider).get(reverse("cases:case", args=[k.pk]))
        assert outsider.status_code == 200
        assert shown(outsider.content.decode()) == RECEIVER


def test_both_audit_trails_hold_the_disclosure_with_both_legal_bases(cast, as_user):
    receiving = narrow_receiver(cast)
    transfer = propose(cast)
    response = accept(cast, as_user, transfer)

    events = list(
        Event.objects.filter(
            action=EventAction.TRANSFER,
            request_id=response["X-Request-ID"],
            detail__step="accepted",
        ).order_by("seq")
    )
    assert [e.detail["side"] for e in events] == ["sending", "receiving"]
    assert [e.detail["partnership"] for e in events] == [
        cast.partnership.pk,
        cast.other_partnership.pk,
    ]
    for event in events:
        assert event.case_id == cast.case.pk
        assert event.detail["to_partnership"] == cast.other_partnership.pk
        assert event.detail["recipient_organisation"] == cast.orgs["elsewhere"].pk
        assert event.detail["sending_agreement"] == cast.agreement.pk
        assert event.detail["sending_legal_basis"] == LegalBasis.COVENANT
        assert event.detail["sending_legal_reference"] == cast.agreement.legal_reference
        assert event.detail["receiving_agreement"] == receiving.pk
        assert event.detail["receiving_legal_basis"] == LegalBasis.STATUTE
        assert event.detail["receiving_legal_reference"] == "Municipalities Act art. 12"
        assert event.detail["categories"] == sorted(RECEIVER)
        assert SUMMARY not in str(event.detail) and sentinel("social") not in str(event.detail)
    # The receiving coordinator's access log of the case shows it...
    log = as_user(cast.outsider).get(reverse("audit:case_access_log", args=[cast.case.pk]))
    assert log.status_code == 200
    assert log.content.decode().count("<td>Transfer</td>") == 3  # proposed, accepted twice
    # ...and so does the sending organisation's audit trail (its auditor's search).
    search = as_user(cast.auditor).get(reverse("audit:search"), {"case": cast.case.pk})
    assert search.status_code == 200
    assert search.content.decode().count("<td>Transfer</td>") == 3
    assert verify() is None


def test_the_sending_coordinator_keeps_the_access_log_up_to_the_handover(cast, as_user):
    narrow_receiver(cast)
    transfer = propose(cast)
    accept(cast, as_user, transfer)
    k = cast.case
    log_url = reverse("audit:case_access_log", args=[k.pk])
    # The receiving side works on the case after the handover.
    assert as_user(cast.outsider).get(reverse("cases:case", args=[k.pk])).status_code == 200
    after_handover = Event.objects.filter(case_id=k.pk).latest("seq")
    assert after_handover.actor_username == cast.outsider.username

    with time_machine.travel(timezone.now() + datetime.timedelta(days=14, minutes=1), tick=False):
        sender = as_user(cast.coordinator)
        assert sender.get(reverse("cases:case", args=[k.pk])).status_code == 404
        response = sender.get(log_url)
        assert response.status_code == 200
        body = response.content.decode()
        # The disclosure is there, on the sender's own side of the log...
        assert body.count("<td>Transfer</td>") == 3  # proposed, accepted on both sides
        assert "You see who accessed it up to the handover" in body
        assert f'href="{reverse("cases:case", args=[k.pk])}"' not in body
        assert shown(body) == set()
        # ...but not what the receiving partnership did afterwards.
        page = audit_selectors.case_access_log(actor=fresh(cast.coordinator), case_id=k.pk)
        seqs = {row.seq for row in page.rows}
        accepted = Event.objects.filter(detail__step="accepted", case_id=k.pk)
        assert set(accepted.values_list("seq", flat=True)) <= seqs
        assert after_handover.seq not in seqs
        assert max(seqs) == max(accepted.values_list("seq", flat=True))
        logged = Event.objects.filter(detail__view="access_log").latest("seq")
        assert logged.actor_username == cast.coordinator.username
        assert logged.detail["until_handover"] == transfer.pk
        # The outgoing list links to it.
        inbox = sender.get(reverse("cases:transfer_inbox")).content.decode()
        assert f'href="{log_url}"' in inbox
        # Nobody else of the old team gains a log: they were never its coordinators.
        for actor in ("case_manager", "police_on_team", "ngo_mentor", "auditor"):
            assert as_user(cast.actors[actor]).get(log_url).status_code == 404, actor
        # The receiving coordinator keeps the whole log.
        assert as_user(cast.outsider).get(log_url).status_code == 200


class Boom(Exception):
    pass


@pytest.mark.parametrize("fault", ["grants", "second_event", "recheck"])
def test_a_failure_at_any_step_leaves_nothing_behind(cast, monkeypatch, fault):
    narrow_receiver(cast)
    transfer = propose(cast)
    actor = fresh(cast.outsider)
    grants_for(actor)  # computed before anything changes, as in a request
    if fault == "grants":

        def broken(case):
            raise Boom

        monkeypatch.setattr(transfer_services, "case_grants_rebuild", broken)
    elif fault == "second_event":
        real = chain.append
        calls = []

        def flaky(event):
            calls.append(event)
            if len(calls) == 2:
                raise Boom
            return real(event)

        monkeypatch.setattr(chain, "append", flaky)
    else:
        # The receiving coordinator lost the role while the request ran.
        User.objects.filter(pk=actor.pk).update(role=Role.PRACTITIONER)
    before = state(cast.case)

    with pytest.raises((Boom, WriteForbidden)):
        transfer_services.transfer_accept(actor=actor, transfer_id=transfer.pk)

    assert state(cast.case) == before
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.PROPOSED
    monkeypatch.undo()
    assert verify() is None


def test_a_receiver_granted_nothing_cannot_accept(cast):
    narrow_receiver(cast, frozenset())
    transfer = propose(cast)
    before = state(cast.case)

    with pytest.raises(transfer_services.TransferRefused):
        transfer_services.transfer_accept(actor=fresh(cast.outsider), transfer_id=transfer.pk)

    assert state(cast.case) == before


def test_a_decided_transfer_cannot_be_decided_again(cast, as_user):
    narrow_receiver(cast)
    transfer = propose(cast)
    accept(cast, as_user, transfer)

    again = as_user(cast.outsider).post(
        reverse("cases:transfer_decide", args=[transfer.pk]),
        {"decision": "decline", "reason": "Changed our mind"},
    )

    assert again.status_code == 409
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.ACCEPTED


# --- Declining and withdrawing ---------------------------------------------------------


def test_declining_needs_a_reason_and_keeps_everything_as_it_was(cast, as_user):
    transfer = propose(cast)
    before = state(cast.case)
    client = as_user(cast.outsider)
    url = reverse("cases:transfer_decide", args=[transfer.pk])

    missing = client.post(url, {"decision": "decline", "reason": " "})
    assert missing.status_code == 422
    assert "Say why you decline." in missing.content.decode()
    assert state(cast.case) == {**before, "events": before["events"] + 1}  # the page's read

    declined = client.post(url, {"decision": "decline", "reason": "No housing here"})

    assert declined.status_code == 302
    transfer.refresh_from_db()
    assert (transfer.status, transfer.decision_reason) == (
        TransferStatus.DECLINED,
        "No housing here",
    )
    after = state(cast.case)
    assert {k: v for k, v in after.items() if k not in ("events", "transfers")} == {
        k: v for k, v in before.items() if k not in ("events", "transfers")
    }
    assert client.get(reverse("cases:case", args=[cast.case.pk])).status_code == 404
    assert (
        as_user(cast.case_manager).get(reverse("cases:case", args=[cast.case.pk])).status_code
        == 200
    )
    # The receiver no longer sees the package once declined.
    view = transfer_selectors.transfer_package(actor=fresh(cast.outsider), transfer_id=transfer.pk)
    assert (view.summary, view.person, view.reference, view.categories) == (None, None, None, None)
    (event,) = Event.objects.filter(action=EventAction.TRANSFER, detail__step="declined")
    assert event.case_id == cast.case.pk
    assert "No housing" not in str(event.detail) and "No housing" not in event.purpose
    # A new proposal may follow.
    assert propose(cast).status == TransferStatus.PROPOSED


def test_the_proposing_side_withdraws_while_open(cast, as_user):
    transfer = propose(cast)
    url = reverse("cases:transfer_withdraw", args=[transfer.pk])

    assert as_user(cast.outsider).post(url).status_code == 403
    assert as_user(cast.case_manager).post(url).status_code == 404
    response = as_user(cast.coordinator).post(url)

    assert response.status_code == 302
    transfer.refresh_from_db()
    assert (transfer.status, transfer.decided_by_id) == (
        TransferStatus.WITHDRAWN,
        cast.coordinator.pk,
    )
    assert as_user(cast.coordinator).post(url).status_code == 409
    decide = as_user(cast.outsider).post(
        reverse("cases:transfer_decide", args=[transfer.pk]), {"decision": "accept"}
    )
    assert decide.status_code == 409
    assert Case.objects.get(pk=cast.case.pk).partnership_id == cast.partnership.pk


# --- Pages -----------------------------------------------------------------------------


def test_the_section_offers_the_form_to_the_coordinator_only(cast, as_user):
    url = reverse("cases:transfer_section", args=[cast.case.pk])

    coordinator = as_user(cast.coordinator).get(url, **HX)
    manager = as_user(cast.case_manager).get(url, **HX)

    assert coordinator.status_code == manager.status_code == 200
    assert "<html" not in coordinator.content.decode()
    assert "Propose a transfer" in coordinator.content.decode()
    assert "Elsewhere partnership" in coordinator.content.decode()
    assert "Propose a transfer" not in manager.content.decode()
    event = Event.objects.filter(actor_id=cast.case_manager.pk).latest("seq")
    assert (event.action, event.case_id, event.detail["view"]) == (
        EventAction.VIEW,
        cast.case.pk,
        "transfer_section",
    )
    full = as_user(cast.coordinator).get(url)
    assert "<html" in full.content.decode() and 'id="main"' in full.content.decode()


def test_proposing_through_the_section(cast, as_user):
    url = reverse("cases:transfer_section", args=[cast.case.pk])
    client = as_user(cast.coordinator)
    data = {
        "to_partnership": cast.other_partnership.pk,
        "summary_category": Category.SOCIAL,
        "handover_summary": SUMMARY,
        "categories": [Category.JUSTICE, Category.SOCIAL],
    }

    invalid = client.post(url, {**data, "handover_summary": ""}, **HX)
    assert invalid.status_code == 422
    assert not Transfer.objects.exists()
    no_category = client.post(url, {k: v for k, v in data.items() if k != "categories"}, **HX)
    assert no_category.status_code == 422
    assert "Choose at least one category of case information to hand over." in (
        no_category.content.decode()
    )
    unknown = client.post(url, {**data, "categories": ["gossip"]}, **HX)
    assert unknown.status_code == 422
    assert "Choose categories from the list." in unknown.content.decode()
    assert not Transfer.objects.exists()
    own = client.post(url, {**data, "to_partnership": cast.partnership.pk})
    assert own.status_code == 422  # not offered: the form refuses it
    forbidden = as_user(cast.case_manager).post(url, data)
    assert forbidden.status_code == 403

    created = client.post(url, data, **HX)

    assert created.status_code == 200
    body = created.content.decode()
    assert "Withdraw the transfer to Elsewhere partnership" in body
    assert "Propose a transfer" not in body
    (transfer,) = Transfer.objects.all()
    assert (transfer.case_id, transfer.handover_summary) == (cast.case.pk, SUMMARY)
    assert transfer.categories == [Category.JUSTICE, Category.SOCIAL]


def test_the_case_page_shows_the_transfer_section_in_its_own_response(cast, as_user):
    url = reverse("cases:case", args=[cast.case.pk])
    manager = as_user(cast.case_manager).get(url).content.decode()
    assert 'id="transfer"' in manager and "This case has not been transferred." in manager
    assert "Propose a transfer" not in manager  # only the coordinator proposes one

    # The coordinator proposes one from the transfer's own page, linked under
    # "More actions": no form on the case page.
    coordinator = as_user(cast.coordinator).get(url).content.decode()
    section_url = reverse("cases:transfer_section", args=[cast.case.pk])
    assert f'href="{section_url}"' in coordinator
    assert f'action="{section_url}"' not in coordinator
    assert "Propose a transfer to another partnership" in coordinator
    assert 'hx-trigger="load"' not in coordinator
    own_page = as_user(cast.coordinator).get(section_url).content.decode()
    assert f'action="{section_url}"' in own_page


def _more_transfers(cast: Cast, count: int) -> None:
    for i in range(count):
        case = Case.objects.create(
            person=PersonFactory(), partnership=cast.partnership, reference=f"TST-2026-{100 + i}"
        )
        CaseNote.objects.create(
            case=case,
            category=Category.JUSTICE,
            kind="fact",
            text="x",
            created_by=cast.coordinator,
            updated_by=cast.coordinator,
        )
        grants_module.case_grants_rebuild(case)
        propose(cast, case=case)


@pytest.mark.parametrize("count", [1, 6])
def test_inbox_query_count_does_not_grow_with_transfers(
    cast, as_user, django_assert_num_queries, count
):
    narrow_receiver(cast)
    _more_transfers(cast, count)
    client = as_user(cast.outsider)

    records = len(transfer_selectors.record_models())
    # session, user, OTP device; grants (1); incoming, outgoing; persons; one
    # count per kind of case record; the audit event (stored, then check, head,
    # seal, head update); the navigation's counts; the request's transaction (2).
    with django_assert_num_queries(19 + records):
        response = client.get(reverse("cases:transfer_inbox"))

    assert response.status_code == 200
    assert response.content.decode().count("Accept or decline") == count


@pytest.mark.parametrize("count", [0, 4])
def test_section_and_decide_query_counts_are_fixed(cast, as_user, django_assert_num_queries, count):
    narrow_receiver(cast)
    for _ in range(count):
        transfer = propose(cast)
        transfer_services.transfer_withdraw(actor=fresh(cast.coordinator), transfer_id=transfer.pk)
    transfer = propose(cast)
    coordinator = as_user(cast.coordinator)
    outsider = as_user(cast.outsider)
    coordinator.get(reverse("cases:caseload"))  # start the chain and the sessions
    outsider.get(reverse("cases:caseload"))

    # session, user, OTP device; grants (1); the case, the transfers, the
    # partnerships for the form; the audit event (stored, then check, head, seal,
    # head update); the request's transaction (2). An HTMX section shows no
    # navigation, so nothing is counted for it.
    with django_assert_num_queries(14):
        section = coordinator.get(reverse("cases:transfer_section", args=[cast.case.pk]), **HX)
    # ... and for the package: the transfer (checked, then read), the person,
    # one count per kind of case record.
    records = len(transfer_selectors.record_models())
    with django_assert_num_queries(16 + records):
        decide = outsider.get(reverse("cases:transfer_decide", args=[transfer.pk]))

    assert section.status_code == decide.status_code == 200


# --- What a transfer discloses (issue 9, item 5) ------------------------------------------

HANDED = [Category.IDENTITY, Category.JUSTICE, Category.SOCIAL, Category.MEETINGS]
KEPT = frozenset(Category.values) - set(HANDED)


def propose_handing(cast: Cast, categories: list[str]) -> Transfer:
    return transfer_services.transfer_propose(
        actor=cast.coordinator,
        case_id=cast.case.pk,
        to_partnership_id=cast.other_partnership.pk,
        handover_summary=SUMMARY,
        summary_category=Category.SOCIAL,
        categories=categories,
    )


def plant_every_record(cast: Cast) -> None:
    """Besides the notes: a contact per category, a licence condition with a
    breach, a signal, a checklist item per category and key dates (justice)."""
    from tests.monitoring.support import plant_monitoring
    from tests.plans.support import plant_checklist

    plant_monitoring(cast)
    plant_checklist(cast.case, cast.coordinator)


def get_urls(cast: Cast, transfer: Transfer) -> list[str]:
    """Every route the URL resolver knows, with K's ids (the route tables' values):
    pages, HTMX sections and the API, read by GET."""
    from tests.routes_table import Scene, routes, url_for

    scene = Scene(cast=cast, users={}, k2=cast.other_case, transfer=transfer)
    urls = []
    for route in routes():
        if route.name.startswith(("admin", "partnerships:")) or "<uuid:" in route.pattern:
            continue
        try:
            urls.append(url_for(scene, route))
        except AssertionError:
            continue  # a parameter that names no case record (a token, a session)
    return urls


def test_the_default_hands_over_what_both_agreements_share_never_intelligence(cast):
    narrow_receiver(cast, RECEIVER | {Category.INTELLIGENCE, Category.RISK})

    transfer = propose(cast)

    # Both agreements grant intelligence to someone (the police here, the
    # receiving municipality there): still not handed over unless ticked.
    assert transfer.categories == [c for c in Category.values if c in RECEIVER | {Category.RISK}]
    ticked = transfer_services.transfer_withdraw(actor=cast.coordinator, transfer_id=transfer.pk)
    assert ticked.status == TransferStatus.WITHDRAWN
    explicit = propose_handing(cast, [Category.INTELLIGENCE, Category.JUSTICE])
    assert explicit.categories == [Category.JUSTICE, Category.INTELLIGENCE]


@pytest.mark.parametrize(
    ("categories", "field"),
    [([], "categories"), (["gossip"], "categories"), ([Category.JUSTICE, "x"], "categories")],
)
def test_an_empty_or_unknown_choice_of_categories_is_refused(cast, categories, field):
    before = state(cast.case)

    with pytest.raises(transfer_services.TransferRefused) as refused:
        propose_handing(cast, categories)

    assert field in refused.value.message_dict
    assert state(cast.case) == before


def test_the_receiver_sees_the_counts_before_accepting_and_the_reading_is_audited(cast, as_user):
    plant_every_record(cast)
    transfer = propose_handing(cast, HANDED)
    held = transfer_selectors.held_counts(cast.case)
    expected = {c: held.get(c, 0) for c in HANDED}
    kept = sum(n for c, n in held.items() if c not in HANDED)
    assert kept > 0 and expected[Category.JUSTICE] > 1

    response = as_user(cast.outsider).get(reverse("cases:transfer_decide", args=[transfer.pk]))

    assert response.status_code == 200
    body = response.content.decode()
    for category in HANDED:
        label = str(Category(category).label)
        assert f'<th scope="row">{label}</th>\n      <td>{expected[category]}</td>' in body
    assert f"{kept} records in other categories stay with Testdam partnership" in body
    for category in KEPT:
        assert f'<th scope="row">{Category(category).label}</th>' not in body
    # Numbers only: no content of any record.
    assert shown(body) == set()
    event = Event.objects.filter(actor_id=cast.outsider.pk, action=EventAction.VIEW).latest("pk")
    assert event.detail["counts"] == {str(transfer.pk): expected}
    assert event.detail["withheld"] == {str(transfer.pk): kept}
    assert event.detail["handed_over"] == {str(transfer.pk): HANDED}
    # The proposal's own event names what is disclosed, and the numbers.
    (proposed,) = Event.objects.filter(action=EventAction.TRANSFER, detail__step="proposed")
    assert proposed.detail["categories_handed_over"] == HANDED
    assert proposed.detail["records_handed_over"] == expected
    assert proposed.detail["records_kept"] == kept


def test_a_category_not_handed_over_never_reaches_the_receiving_side(cast, as_user):
    from tests.api.conftest import token_client
    from tests.monitoring.support import contact_sentinel
    from tests.routes_table import body_of

    plant_every_record(cast)
    transfer = propose_handing(cast, HANDED)
    urls = get_urls(cast, transfer)
    accept(cast, as_user, transfer)

    transfer.refresh_from_db()
    (accepted, *_rest) = Event.objects.filter(action=EventAction.TRANSFER, detail__step="accepted")
    assert accepted.detail["categories_handed_over"] == HANDED
    assert set(accepted.detail["records_handed_over"]) == set(HANDED)
    page = as_user(cast.outsider)
    token = token_client(cast.outsider)
    walked = 0
    for url in urls:
        client = token if url.startswith("/api/") else page
        response = client.get(url, **({} if url.startswith("/api/") else HX))
        body = body_of(response)
        leaked = [c for c in KEPT if sentinel(c) in body]
        assert leaked == [], (url, leaked)
        walked += response.status_code == 200
    assert walked >= 15  # the case page, its sections, the timeline, the API's reads
    # What was handed over does reach it: the case page, the timeline, the API.
    case_page = page.get(reverse("cases:case", args=[cast.case.pk])).content.decode()
    assert shown(case_page) == set(HANDED)
    assert contact_sentinel(Category.SOCIAL) in case_page
    timeline = page.get(reverse("cases:timeline", args=[cast.case.pk])).content.decode()
    assert contact_sentinel(Category.SOCIAL) in timeline
    assert [c for c in KEPT if sentinel(c) in timeline] == []
    notes = token.get(f"/api/v1/cases/{cast.case.pk}/notes/").json()
    assert {n["category"] for n in notes["results"]} == set(HANDED)
    # Search: each category's words find its sentinel only if it was handed over.
    for category in ALL:
        words = {"q": f"sentinel {category}"}
        for found in (
            body_of(page.get(reverse("search:search"), words)),
            body_of(token.get("/api/v1/search/", words)),
        ):
            assert (sentinel(category) in found) is (category in HANDED), category
    # A record kept by the sender answers 404 by its id.
    risk_note = cast.notes[Category.RISK]
    assert token.get(f"/api/v1/cases/{cast.case.pk}/notes/{risk_note.pk}/").status_code == 404


def test_a_member_of_both_partnerships_reads_no_kept_record_through_the_new_one(cast, as_user):
    """The receiving organisation is also a member of the sending partnership, with
    a grant on risk there: the risk records the sender kept stay out of its reach."""
    from tests.factories import CategoryGrantFactory, MembershipFactory

    MembershipFactory(partnership=cast.partnership, organisation=cast.orgs["elsewhere"])
    CategoryGrantFactory(
        agreement=cast.agreement,
        organisation=cast.orgs["elsewhere"],
        category=Category.RISK,
        access="read",
    )
    transfer = propose_handing(cast, HANDED)
    accept(cast, as_user, transfer)

    body = as_user(cast.outsider).get(reverse("cases:case", args=[cast.case.pk])).content.decode()
    assert shown(body) == set(HANDED)


def test_the_sending_side_keeps_the_kept_records_during_grace_and_loses_them_after(cast, as_user):
    transfer = propose_handing(cast, HANDED)
    accept(cast, as_user, transfer)
    url = reverse("cases:case", args=[cast.case.pk])

    # Probation reads justice, risk, social, interventions, meetings and health.
    during = as_user(fresh(cast.case_manager)).get(url)
    assert during.status_code == 200
    assert shown(during.content.decode()) == set(AGREEMENT["probation"])
    with time_machine.travel(timezone.now() + datetime.timedelta(days=14, minutes=1), tick=False):
        after = as_user(fresh(cast.case_manager)).get(url)
        assert after.status_code == 404
        assert shown(after.content.decode()) == set()
    # The kept records are still there (and in the audit trail), held by the sender.
    held = dict(CaseNote.objects.filter(case=cast.case).values_list("category", "partnership_id"))
    assert held == {
        c: (cast.other_partnership.pk if c in HANDED else cast.partnership.pk)
        for c in Category.values
    }


def test_records_written_after_acceptance_belong_to_the_receiving_partnership(cast, as_user):
    from prepare.cases import services as case_services

    transfer = propose_handing(cast, [Category.JUSTICE])
    accept(cast, as_user, transfer)

    note = case_services.note_create(
        actor=fresh(cast.outsider),
        case_id=cast.case.pk,
        category=Category.RISK,
        kind="fact",
        text="Written by Elsewhere",
    )

    assert note.partnership_id == cast.other_partnership.pk
    body = as_user(cast.outsider).get(reverse("cases:case", args=[cast.case.pk])).content.decode()
    assert "Written by Elsewhere" in body
    assert sentinel(Category.RISK) not in body  # the sender's risk note stayed behind


def test_the_form_ticks_what_both_agreements_share_for_the_chosen_partnership(cast, as_user):
    import re

    narrow_receiver(cast)
    client = as_user(cast.coordinator)
    url = reverse("cases:transfer_section", args=[cast.case.pk])

    def ticked(body: str) -> set[str]:
        inputs = re.findall(r'<input type="checkbox" name="categories" [^>]*>', body)
        return {
            re.search(r'value="(\w+)"', i).group(1)  # type: ignore[union-attr]
            for i in inputs
            if " checked" in i
        }

    before = client.get(url).content.decode()
    # No partnership chosen yet: what the sending agreement shares, not intelligence.
    assert ticked(before) == set(Category.values) - {Category.INTELLIGENCE}
    assert 'hx-get="' + url + '"' in before and 'hx-select="#transfer-categories"' in before
    chosen = client.get(url, {"to_partnership": cast.other_partnership.pk}, **HX)
    assert chosen.status_code == 200
    assert ticked(chosen.content.decode()) == set(RECEIVER)
    # Nonsense in the parameter is ignored, not an error.
    assert ticked(client.get(url, {"to_partnership": "x"}, **HX).content.decode()) == (
        set(Category.values) - {Category.INTELLIGENCE}
    )
