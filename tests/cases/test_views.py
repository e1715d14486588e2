"""The case pages: caseload, case page, notes, team, break-glass, site frame."""

from __future__ import annotations

import datetime
import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from prepare.access.models import BreakGlassAccess
from prepare.accounts.models import Role
from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction
from prepare.cases import selectors, services
from prepare.cases.models import Case, CaseNote, CaseStatus, CaseTeamMember, NoteKind
from prepare.locking import StaleVersion
from tests.access.test_caseload import bulk_cases
from tests.cases.test_case_page import CASE_MANAGER_QUERIES
from tests.cast import Cast, current_code, sentinel
from tests.factories import (
    AgreementFactory,
    CategoryGrantFactory,
    MembershipFactory,
    PartnershipFactory,
    PersonFactory,
    UserFactory,
)

HX = {"HTTP_HX_REQUEST": "true"}
NOT_SHARED = "Not shared with your organisation"


def open_cases(cast: Cast, count: int, *, status: str = CaseStatus.COMMUNITY, partnership=None):
    """``count`` cases opened by the case manager, so probation is on each team."""
    return [
        services.case_create(
            actor=cast.case_manager,
            partnership=partnership or cast.partnership,
            person=PersonFactory.build(),
            status=status,
        )
        for _ in range(count)
    ]


def events(action: str, **filters) -> list[Event]:
    return list(Event.objects.filter(action=action, **filters).order_by("seq"))


def rows_of(body: str) -> list[str]:
    """The case references listed in a caseload table, in order."""
    return re.findall(r'<th scope="row"><a href="/cases/\d+/">([^<]+)</a></th>', body)


# --- Caseload -------------------------------------------------------------------


def test_caseload_lists_reachable_cases_and_audits_one_list_event(cast, as_user):
    response = as_user(cast.case_manager).get(reverse("cases:caseload"))

    assert response.status_code == 200
    body = response.content.decode()
    assert rows_of(body) == [cast.case.reference]
    assert "Sentinelia Identitas" in body
    assert cast.other_case.reference not in body
    assert "1 case" in body
    (event,) = events(EventAction.LIST)
    assert event.actor_id == cast.case_manager.pk
    assert event.case_ids == [cast.case.pk]
    assert verify() is None


def test_caseload_hides_the_name_without_the_identity_grant(cast, as_user):
    body = as_user(cast.ngo_mentor).get(reverse("cases:caseload")).content.decode()

    assert rows_of(body) == [cast.case.reference]
    assert "Sentinelia" not in body
    assert NOT_SHARED in body


def test_caseload_empty_state(cast, as_user):
    body = as_user(cast.police_off_team).get(reverse("cases:caseload")).content.decode()

    assert rows_of(body) == []
    assert "You have no cases at the moment." in body
    assert "0 cases" in body
    assert events(EventAction.LIST)[0].case_ids == []


def test_caseload_paginates_by_25_newest_first(cast, as_user):
    opened = open_cases(cast, 30)
    client = as_user(cast.case_manager)

    first = client.get(reverse("cases:caseload")).content.decode()
    second = client.get(reverse("cases:caseload") + "?page=2").content.decode()

    newest_first = [c.reference for c in reversed(opened)] + [cast.case.reference]
    assert rows_of(first) == newest_first[:25]
    assert rows_of(second) == newest_first[25:]
    assert "31 cases" in first
    assert 'rel="next" href="/cases/?page=2"' in first
    assert 'rel="prev"' not in first
    assert 'rel="prev" href="/cases/?page=1"' in second
    assert 'rel="next"' not in second
    page_events = events(EventAction.LIST)
    assert len(page_events[0].case_ids) == 25
    assert sorted(page_events[1].case_ids) == sorted(
        Case.objects.filter(reference__in=newest_first[25:]).values_list("pk", flat=True)
    )


def test_caseload_page_past_the_end_says_so(cast, as_user):
    body = as_user(cast.case_manager).get(reverse("cases:caseload") + "?page=9").content.decode()

    assert rows_of(body) == []
    assert "There are no more cases on this page." in body


def test_caseload_filters_by_status_in_sql(cast, as_user):
    community = open_cases(cast, 3, status=CaseStatus.COMMUNITY)
    open_cases(cast, 2, status=CaseStatus.TRIAGE)

    body = (
        as_user(cast.case_manager)
        .get(reverse("cases:caseload"), {"status": CaseStatus.COMMUNITY})
        .content.decode()
    )

    assert sorted(rows_of(body)) == sorted(c.reference for c in community)
    # The total comes from the same filtered query on the grant index.
    assert "3 cases" in body
    assert sorted(events(EventAction.LIST)[0].case_ids) == sorted(c.pk for c in community)


def test_caseload_filters_by_partnership(cast, as_user):
    second = PartnershipFactory(name="Second partnership", code="SEC")
    MembershipFactory(partnership=second, organisation=cast.orgs["probation"])
    agreement = AgreementFactory(partnership=second)
    for category in ("identity", "justice"):
        CategoryGrantFactory(
            agreement=agreement,
            organisation=cast.orgs["probation"],
            category=category,
            access="write",
        )
    (elsewhere,) = open_cases(cast, 1, partnership=second)
    client = as_user(cast.case_manager)

    everything = client.get(reverse("cases:caseload")).content.decode()
    only_second = client.get(reverse("cases:caseload"), {"partnership": second.pk})

    assert set(rows_of(everything)) == {cast.case.reference, elsewhere.reference}
    assert f'<option value="{second.pk}">Second partnership</option>' in everything
    assert rows_of(only_second.content.decode()) == [elsewhere.reference]


def test_caseload_refuses_a_partnership_the_user_is_not_in(cast, as_user):
    response = as_user(cast.case_manager).get(
        reverse("cases:caseload"), {"partnership": cast.other_partnership.pk, "status": "nope"}
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "There is a problem" in body
    assert cast.other_case.reference not in body
    assert cast.other_partnership.name not in body
    assert rows_of(body) == [cast.case.reference]


def test_caseload_keeps_the_valid_filter_when_another_is_wrong(cast, as_user):
    (triage,) = open_cases(cast, 1, status=CaseStatus.TRIAGE)

    body = (
        as_user(cast.case_manager)
        .get(reverse("cases:caseload"), {"status": CaseStatus.TRIAGE, "partnership": "x"})
        .content.decode()
    )

    assert rows_of(body) == [triage.reference]


@pytest.mark.parametrize("page", ["²", "-3", "0", "abc", "99999999999999999999999"])
def test_caseload_odd_page_numbers_do_not_fail(cast, as_user, page):
    response = as_user(cast.case_manager).get(reverse("cases:caseload"), {"page": page})

    assert response.status_code == 200


def test_caseload_htmx_request_gets_only_the_results(cast, as_user):
    response = as_user(cast.case_manager).get(
        reverse("cases:caseload"), {"status": CaseStatus.PRE_RELEASE}, **HX
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert 'id="caseload-count" hx-swap-oob="innerHTML"' in body
    assert rows_of(body) == [cast.case.reference]
    assert "HX-Request" in response["Vary"]


def test_caseload_count_is_capped(cast, as_user, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_CAP", 5)
    open_cases(cast, 7)

    body = as_user(cast.case_manager).get(reverse("cases:caseload")).content.decode()

    assert "5+ cases" in body
    assert len(rows_of(body)) == 8


@pytest.mark.parametrize("count", [10, 500])
def test_caseload_query_count_does_not_grow_with_cases(
    cast, as_user, django_assert_num_queries, count
):
    open_cases(cast, 1)  # through the service: also starts the audit chain
    bulk_cases(cast, count - 1, rebuild=False)  # the rest in bulk, as the index holds them
    client = as_user(cast.case_manager)

    # session, user, OTP device; grants with the partnerships' names (1); page ids
    # with the capped total (1); cases; what is next for the page's cases (next
    # key date, overdue items, open signals: 3); audit event (stored, access
    # index, then check, head, seal, head update); the request's transaction (2);
    # the navigation's counts (the bell and the signals awaiting the user, one query).
    with django_assert_num_queries(21):
        response = client.get(reverse("cases:caseload"))

    assert len(rows_of(response.content.decode())) == min(count + 1, 25)


# --- Case page ------------------------------------------------------------------


def test_case_page_shows_team_and_readable_notes(cast, as_user):
    response = as_user(cast.case_manager).get(reverse("cases:case", args=[cast.case.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Sentinelia Identitas" in body
    assert "Supervision" in body and "Exit programme" in body
    for category in ("identity", "justice", "risk", "health", "social"):
        assert sentinel(category) in body
    for category in ("ideology", "intelligence"):
        assert sentinel(category) not in body
    # The notes are the municipality's: probation replies, it does not edit.
    for category in ("health", "risk"):
        note = cast.notes[category]
        assert reverse("cases:note_edit", args=[cast.case.pk, note.pk]) not in body
        assert reverse("cases:note_reply", args=[cast.case.pk, note.pk]) in body
    assert reverse("cases:team", args=[cast.case.pk]) in body
    assert "emergency access" not in body.lower()
    (event,) = events(EventAction.VIEW)
    assert event.case_id == cast.case.pk


def test_case_page_without_identity_explains_why(cast, as_user):
    body = as_user(cast.ngo_mentor).get(reverse("cases:case", args=[cast.case.pk])).content.decode()

    assert NOT_SHARED in body
    assert "Sentinelia" not in body
    # A practitioner does not manage the team.
    assert reverse("cases:team", args=[cast.case.pk]) not in body


@pytest.mark.parametrize("extra_notes", [0, 20])
def test_case_page_query_count(cast, as_user, django_assert_num_queries, extra_notes):
    for i in range(extra_notes):
        author = UserFactory(organisation=cast.orgs["probation"], role=Role.CASE_MANAGER)
        CaseNote.objects.create(
            case=cast.case,
            category="risk",
            kind=NoteKind.FACT,
            text=f"note {i}",
            created_by=author,
            updated_by=author,
        )
    client = as_user(cast.case_manager)
    client.get(reverse("cases:caseload"))  # the audit chain has its head already

    # The whole page with every section in one response: the count and what it
    # is made of are in tests/cases/test_case_page.py (it was 23 for the page
    # without its sections, which then cost six more requests and 132 queries).
    # This case has no licence condition, so no form to record a breach (-1).
    with django_assert_num_queries(CASE_MANAGER_QUERIES - 1):
        response = client.get(reverse("cases:case", args=[cast.case.pk]))

    assert response.status_code == 200
    assert response.content.decode().count('class="note"') == 9 - 2 + extra_notes


# --- Notes ----------------------------------------------------------------------


def test_add_note_with_htmx_returns_the_notes_section(cast, as_user):
    response = as_user(cast.case_manager).post(
        reverse("cases:note_create", args=[cast.case.pk]),
        {"category": "risk", "kind": NoteKind.ASSESSMENT, "text": "Protective factors grow."},
        **HX,
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="notes"')
    assert "Protective factors grow." in body
    assert "The note is added." in body
    note = CaseNote.objects.get(text="Protective factors grow.")
    assert (note.case_id, note.category, note.kind) == (cast.case.pk, "risk", "assessment")
    assert note.created_by == cast.case_manager
    (created,) = events(EventAction.CREATE)
    assert (created.object_id, created.category) == (str(note.pk), "risk")
    assert events(EventAction.VIEW)[-1].detail["notes"].count(note.pk) == 1
    assert verify() is None


def test_add_note_without_htmx_redirects_back(cast, as_user):
    client = as_user(cast.case_manager)
    response = client.post(
        reverse("cases:note_create", args=[cast.case.pk]),
        {"category": "justice", "kind": NoteKind.FACT, "text": "Licence starts Monday."},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("cases:case", args=[cast.case.pk]) + "#notes"
    note = CaseNote.objects.get(text="Licence starts Monday.")
    assert note.category == "justice"
    assert events(EventAction.CREATE)[0].object_id == str(note.pk)
    page = client.get(response["Location"]).content.decode()
    assert "The note is added." in page


@pytest.mark.parametrize("htmx", [False, True])
def test_invalid_note_keeps_the_typed_text(cast, as_user, htmx):
    before = CaseNote.objects.count()
    response = as_user(cast.case_manager).post(
        reverse("cases:note_create", args=[cast.case.pk]),
        {"category": "risk", "kind": "", "text": "Typed <b>carefully</b> over ten minutes"},
        **(HX if htmx else {}),
    )

    body = response.content.decode()
    assert response.status_code == 422
    assert "There is a problem" in body
    assert "Typed &lt;b&gt;carefully&lt;/b&gt; over ten minutes</textarea>" in body
    note_form = body[body.index("data-note-form") :]  # the case page has other forms
    kind_select = re.search(r'<select name="kind"[^>]*>', note_form).group(0)
    assert 'aria-invalid="true"' in kind_select
    assert 'aria-describedby="note_kind_helptext note_kind_error"' in kind_select
    assert 'id="note_kind_error"' in body
    assert '<option value="risk" selected>' in body
    assert '<option value="" selected>Choose fact or assessment</option>' in body
    assert ("<html" in body) is not htmx
    assert CaseNote.objects.count() == before
    assert events(EventAction.CREATE) == []


def test_observer_cannot_add_a_note(cast, as_user):
    observer = UserFactory(organisation=cast.orgs["probation"], role=Role.OBSERVER)
    before = CaseNote.objects.count()

    response = as_user(observer).post(
        reverse("cases:note_create", args=[cast.case.pk]),
        {"category": "risk", "kind": NoteKind.FACT, "text": "Should not land."},
    )

    assert response.status_code == 403
    assert CaseNote.objects.count() == before


@pytest.mark.parametrize("text", ["Should not land.", ""])
def test_note_in_an_ungranted_category_is_forbidden(cast, as_user, text):
    # The NGO writes interventions only; risk is not theirs, valid form or not.
    before = CaseNote.objects.count()

    response = as_user(cast.ngo_mentor).post(
        reverse("cases:note_create", args=[cast.case.pk]),
        {"category": "risk", "kind": NoteKind.FACT, "text": text},
    )

    assert response.status_code == 403
    assert CaseNote.objects.count() == before
    assert events(EventAction.CREATE) == []


def test_forbidden_htmx_write_answers_in_the_message_area(cast, as_user):
    response = as_user(cast.ngo_mentor).post(
        reverse("cases:note_create", args=[cast.case.pk]),
        {"category": "risk", "kind": NoteKind.FACT, "text": "No."},
        **HX,
    )

    assert response.status_code == 403
    assert response["HX-Retarget"] == "#messages"
    assert 'role="alert"' in response.content.decode()


# --- Editing a note ---------------------------------------------------------------


def probation_note(cast, category="risk"):
    """The cast's note of ``category``, as if probation's case manager wrote it:
    only the author's organisation edits a note."""
    note = cast.notes[category]
    CaseNote.objects.filter(pk=note.pk).update(created_by=cast.case_manager)
    note.refresh_from_db()
    return note


def probation_colleague(cast):
    from tests.factories import UserFactory

    return UserFactory(
        username="probation_colleague", organisation=cast.orgs["probation"], role="practitioner"
    )


def test_edit_form_is_an_audited_read(cast, as_user):
    note = probation_note(cast)
    response = as_user(cast.case_manager).get(
        reverse("cases:note_edit", args=[cast.case.pk, note.pk])
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert sentinel("risk") + "</textarea>" in body
    assert 'name="version" value="1"' in body
    (event,) = events(EventAction.VIEW)
    assert (event.object_id, event.category) == (str(note.pk), "risk")
    assert event.detail["view"] == "note_edit"


def test_edit_note_saves_with_the_version(cast, as_user):
    note = probation_note(cast)
    response = as_user(cast.case_manager).post(
        reverse("cases:note_edit", args=[cast.case.pk, note.pk]),
        {"kind": NoteKind.ASSESSMENT, "text": "Revised risk picture.", "version": "1"},
    )

    assert response.status_code == 302
    note.refresh_from_db()
    assert (note.text, note.kind, note.version) == ("Revised risk picture.", "assessment", 2)
    assert note.updated_by == cast.case_manager
    (event,) = events(EventAction.UPDATE)
    assert event.detail["fields"] == ["kind", "text"]


def test_stale_version_is_refused_and_keeps_the_text(cast, as_user):
    note = probation_note(cast)
    colleague = probation_colleague(cast)
    services.note_update(actor=colleague, note_id=note.pk, version=1, text="Theirs.")

    response = as_user(cast.case_manager).post(
        reverse("cases:note_edit", args=[cast.case.pk, note.pk]),
        {"kind": NoteKind.FACT, "text": "Mine, typed at length.", "version": "1"},
    )

    body = response.content.decode()
    assert response.status_code == 409
    assert str(StaleVersion.message).replace("'", "&#x27;") in body
    assert "Mine, typed at length.</textarea>" in body
    assert "<p>Theirs.</p>" in body
    assert 'name="version" value="2"' in body
    note.refresh_from_db()
    assert (note.text, note.version) == ("Theirs.", 2)
    assert [e.actor_id for e in events(EventAction.UPDATE)] == [colleague.pk]
    assert events(EventAction.VIEW)[-1].detail["view"] == "note_conflict"


def test_missing_version_is_428(cast, as_user):
    note = probation_note(cast)

    response = as_user(cast.case_manager).post(
        reverse("cases:note_edit", args=[cast.case.pk, note.pk]),
        {"kind": NoteKind.FACT, "text": "No version sent."},
    )

    assert response.status_code == 428
    assert "No version sent.</textarea>" in response.content.decode()
    note.refresh_from_db()
    assert (note.text, note.version) == (sentinel("risk"), 1)
    assert events(EventAction.UPDATE) == []


def test_editing_a_read_only_category_is_forbidden(cast, as_user):
    # Police read justice but do not write it.
    note = cast.notes["justice"]
    client = as_user(cast.police_on_team)
    url = reverse("cases:note_edit", args=[cast.case.pk, note.pk])

    assert client.get(url).status_code == 403
    response = client.post(url, {"kind": NoteKind.FACT, "text": "Changed.", "version": "1"})

    assert response.status_code == 403
    note.refresh_from_db()
    assert (note.text, note.version) == (sentinel("justice"), 1)


def test_note_of_another_case_is_not_found_under_this_case(cast, as_user):
    (second,) = open_cases(cast, 1)
    foreign = services.note_create(
        actor=cast.case_manager, case_id=second.pk, category="risk", kind="fact", text="Other."
    )

    response = as_user(cast.case_manager).get(
        reverse("cases:note_edit", args=[cast.case.pk, foreign.pk])
    )

    assert response.status_code == 404


# --- Case team ------------------------------------------------------------------


def test_team_page_is_an_audited_read_for_team_editors(cast, as_user):
    response = as_user(cast.case_manager).get(reverse("cases:team", args=[cast.case.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Exit programme" in body
    assert cast.orgs["elsewhere"].name not in body  # not a member of the partnership
    (event,) = events(EventAction.VIEW)
    assert event.detail["view"] == "team"
    assert (
        as_user(cast.ngo_mentor).get(reverse("cases:team", args=[cast.case.pk])).status_code == 403
    )


def test_adding_an_organisation_opens_the_case_to_its_staff(cast, as_user):
    case_page = reverse("cases:case", args=[cast.case.pk])
    police = as_user(cast.police_off_team)
    assert police.get(case_page).status_code == 404

    response = as_user(cast.case_manager).post(
        reverse("cases:team", args=[cast.case.pk]),
        {"organisation": cast.orgs["police"].pk, "purpose": "Threat assessment", "user": ""},
    )

    assert response.status_code == 302
    member = CaseTeamMember.objects.get(
        case=cast.case, organisation=cast.orgs["police"], user__isnull=True
    )
    assert member.purpose == "Threat assessment"
    assert member.added_by == cast.case_manager
    (event,) = events(EventAction.TEAM_CHANGE)
    assert event.detail["recipient_organisation"] == cast.orgs["police"].pk
    assert police.get(case_page).status_code == 200


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"organisation": "ORG", "purpose": ""}, "This field is required."),
        ({"organisation": "ELSEWHERE", "purpose": "Curious"}, "Select a valid choice."),
        ({"organisation": "ORG", "purpose": "Old", "ends_on": "2000-01-01"}, "in the past"),
    ],
)
def test_invalid_team_addition_is_a_form_error(cast, as_user, data, error):
    data = {
        **data,
        "organisation": {"ORG": cast.orgs["police"].pk, "ELSEWHERE": cast.orgs["elsewhere"].pk}[
            data["organisation"]
        ],
    }
    before = CaseTeamMember.objects.count()

    response = as_user(cast.case_manager).post(reverse("cases:team", args=[cast.case.pk]), data)

    assert response.status_code == 422
    assert error in response.content.decode()
    assert CaseTeamMember.objects.count() == before
    assert events(EventAction.TEAM_CHANGE) == []


def test_removing_a_member_ends_their_access(cast, as_user):
    ngo = CaseTeamMember.objects.get(case=cast.case, organisation=cast.orgs["ngo"])
    mentor = as_user(cast.ngo_mentor)
    assert mentor.get(reverse("cases:case", args=[cast.case.pk])).status_code == 200

    response = as_user(cast.case_manager).post(
        reverse("cases:team_remove", args=[cast.case.pk, ngo.pk])
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("cases:team", args=[cast.case.pk])
    assert not CaseTeamMember.objects.filter(pk=ngo.pk).exists()
    (event,) = events(EventAction.TEAM_CHANGE)
    assert event.detail["change"] == "removed"
    assert mentor.get(reverse("cases:case", args=[cast.case.pk])).status_code == 404


def test_removing_ones_own_organisation_returns_to_the_caseload(cast, as_user):
    probation = CaseTeamMember.objects.get(case=cast.case, organisation=cast.orgs["probation"])
    client = as_user(cast.case_manager)

    response = client.post(reverse("cases:team_remove", args=[cast.case.pk, probation.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("cases:caseload")
    assert client.get(reverse("cases:case", args=[cast.case.pk])).status_code == 404


def test_practitioner_cannot_remove_team_members(cast, as_user):
    probation = CaseTeamMember.objects.get(case=cast.case, organisation=cast.orgs["probation"])

    response = as_user(cast.ngo_mentor).post(
        reverse("cases:team_remove", args=[cast.case.pk, probation.pk])
    )

    assert response.status_code == 403
    assert CaseTeamMember.objects.filter(pk=probation.pk).exists()


def test_member_of_another_case_is_not_removed_through_this_case(cast, as_user):
    (second,) = open_cases(cast, 1)
    member = CaseTeamMember.objects.get(case=second)

    response = as_user(cast.case_manager).post(
        reverse("cases:team_remove", args=[cast.case.pk, member.pk])
    )

    assert response.status_code == 404
    assert CaseTeamMember.objects.filter(pk=member.pk).exists()


# --- Break-glass ------------------------------------------------------------------


def _without_tokens(body: str) -> str:
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)
    return re.sub(r"/cases/\d+/", "/cases/N/", body)


def test_break_glass_form_does_not_reveal_whether_a_case_exists(cast, as_user):
    client = as_user(cast.police_off_team)
    missing = Case.objects.order_by("-pk").first().pk + 1000

    real = client.get(reverse("cases:break_glass", args=[cast.case.pk]))
    fake = client.get(reverse("cases:break_glass", args=[missing]))

    assert real.status_code == fake.status_code == 200
    assert _without_tokens(real.content.decode()) == _without_tokens(fake.content.decode())
    assert Event.objects.count() == 0


def test_break_glass_opens_the_case_and_alerts(cast, as_user, django_capture_on_commit_callbacks):
    client = as_user(cast.police_off_team)
    case_page = reverse("cases:case", args=[cast.case.pk])
    not_found = client.get(case_page)
    assert not_found.status_code == 404
    assert reverse("cases:break_glass", args=[cast.case.pk]) in not_found.content.decode()

    short = client.post(
        reverse("cases:break_glass", args=[cast.case.pk]),
        {"justification": "x", "code": current_code(cast.police_off_team)},
    )
    assert short.status_code == 403
    assert "Write at least 40 characters." in short.content.decode()
    assert not BreakGlassAccess.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("cases:break_glass", args=[cast.case.pk]),
            {
                "justification": "Credible threat reported tonight, team unreachable.",
                "code": current_code(cast.police_off_team),
            },
        )

    assert response.status_code == 302
    assert response["Location"] == case_page
    access = BreakGlassAccess.objects.get(user=cast.police_off_team, case=cast.case)
    assert access.expires_at > timezone.now() + datetime.timedelta(hours=23)
    (event,) = events(EventAction.BREAK_GLASS)
    assert event.case_id == cast.case.pk
    # One mail per overseer: the coordinator's names the case, nothing more.
    (alert,) = [m for m in mail.outbox if m.to == [cast.coordinator.email]]
    assert cast.case.reference in alert.subject
    page = client.get(case_page)
    assert page.status_code == 200
    assert "Emergency access." in page.content.decode()


def test_break_glass_outside_ones_partnerships_is_not_found(cast, as_user):
    response = as_user(cast.outsider).post(
        reverse("cases:break_glass", args=[cast.case.pk]),
        {
            "justification": "Trying to reach another city's case tonight.",
            "code": current_code(cast.outsider),
        },
    )

    assert response.status_code == 404
    assert not BreakGlassAccess.objects.exists()
    assert events(EventAction.BREAK_GLASS) == []


# --- Invisible case: 404 on every route -------------------------------------------


def _routes(cast: Cast) -> list[tuple[str, str, dict]]:
    pk = cast.case.pk
    note = cast.notes["risk"].pk
    member = CaseTeamMember.objects.filter(case=cast.case).first().pk
    return [
        ("get", reverse("cases:case", args=[pk]), {}),
        ("post", reverse("cases:note_create", args=[pk]), {"category": "risk", "kind": "fact"}),
        ("get", reverse("cases:note_edit", args=[pk, note]), {}),
        ("post", reverse("cases:note_edit", args=[pk, note]), {"kind": "fact", "version": "1"}),
        ("get", reverse("cases:note_reply", args=[pk, note]), {}),
        (
            "post",
            reverse("cases:note_reply", args=[pk, note]),
            {"category": "risk", "kind": "fact"},
        ),
        ("get", reverse("cases:note_history", args=[pk, note]), {}),
        ("get", reverse("cases:team", args=[pk]), {}),
        ("post", reverse("cases:team", args=[pk]), {"purpose": "x"}),
        ("post", reverse("cases:team_remove", args=[pk, member]), {}),
        (
            "post",
            reverse("cases:break_glass", args=[pk]),
            {
                "justification": "A long enough justification for the night shift",
                "code": current_code(cast.outsider),
            },
        ),
    ]


@pytest.mark.parametrize("htmx", [False, True])
def test_outsider_gets_404_everywhere_and_nothing_changes(cast, as_user, htmx):
    client = as_user(cast.outsider)
    notes = list(CaseNote.objects.values_list("pk", "version", "text"))
    team = list(CaseTeamMember.objects.values_list("pk", flat=True))

    for method, url, data in _routes(cast):
        payload = {**data, "text": "Outsider text"} if "notes" in url else data
        response = getattr(client, method)(url, payload, **(HX if htmx else {}))
        body = response.content.decode()
        assert response.status_code == 404, (method, url)
        assert cast.case.reference not in body
        assert "Sentinelia" not in body
        assert all(sentinel(c) not in body for c in cast.notes)

    assert list(CaseNote.objects.values_list("pk", "version", "text")) == notes
    assert list(CaseTeamMember.objects.values_list("pk", flat=True)) == team
    assert not BreakGlassAccess.objects.exists()
    assert not Event.objects.exclude(action__in=[EventAction.LIST, EventAction.DENIED]).exists()
    # Each refusal is on record, naming the route and the case asked for.
    refused = Event.objects.filter(action=EventAction.DENIED, actor_id=cast.outsider.pk)
    assert refused.count() == len(_routes(cast))
    assert set(refused.values_list("case_id", flat=True)) == {cast.case.pk}


def test_huge_ids_are_not_found(cast, as_user):
    huge = 2**70
    client = as_user(cast.case_manager)

    assert client.get(f"/cases/{cast.case.pk}/notes/{huge}/edit/").status_code == 404
    assert client.post(f"/cases/{cast.case.pk}/team/{huge}/remove/").status_code == 404
    assert client.get(f"/cases/{huge}/").status_code == 404


# --- Site frame -------------------------------------------------------------------


def test_frame_has_skip_link_navigation_and_language_switcher(cast, as_user):
    body = as_user(cast.case_manager).get(reverse("cases:caseload")).content.decode()

    assert '<a class="skip-link" href="#main">' in body
    assert '<main id="main"' in body
    assert 'aria-current="page">My cases</a>' in body
    assert f'action="{reverse("accounts:logout")}"' in body
    assert f'action="{reverse("set_language")}"' in body
    assert '<label for="language-select">' in body
    assert len(re.findall(r'<option value="\w\w" lang="\w\w"', body)) == 7
    assert 'id="messages" class="messages" role="status"' in body
    assert "Audit log" not in body


def test_audit_links_only_for_auditors_and_coordinators(cast, as_user):
    case_page = reverse("cases:case", args=[cast.case.pk])
    audit_url = reverse("audit:search")
    access_log = reverse("audit:case_access_log", kwargs={"pk": cast.case.pk})

    auditor = as_user(cast.auditor).get(reverse("accounts:api_tokens")).content.decode()
    manager = as_user(cast.case_manager).get(case_page).content.decode()
    coordinator = as_user(cast.coordinator).get(case_page).content.decode()

    assert f'href="{audit_url}"' in auditor
    assert f'href="{audit_url}"' not in manager
    assert f'href="{access_log}"' in coordinator
    assert f'href="{access_log}"' not in manager
    assert f'href="{reverse("partnerships:detail", args=[cast.partnership.pk])}"' in manager


def test_language_switch_changes_the_page_language(cast, as_user):
    client = as_user(cast.case_manager)

    response = client.post(reverse("set_language"), {"language": "fr", "next": "/"})

    assert response.status_code == 302
    assert '<html lang="fr">' in client.get(reverse("cases:caseload")).content.decode()


def test_pages_have_no_inline_script_or_style_and_serve_htmx(cast, as_user):
    client = as_user(cast.case_manager)
    pages = [
        reverse("cases:caseload"),
        reverse("cases:case", args=[cast.case.pk]),
        reverse("cases:team", args=[cast.case.pk]),
        reverse("cases:note_edit", args=[cast.case.pk, probation_note(cast).pk]),
        reverse("cases:note_reply", args=[cast.case.pk, cast.notes["justice"].pk]),
        reverse("cases:note_history", args=[cast.case.pk, cast.notes["justice"].pk]),
        reverse("cases:break_glass", args=[cast.case.pk]),
    ]
    for url in pages:
        body = client.get(url).content.decode()
        assert " style=" not in body, url
        assert "<style" not in body, url
        scripts = re.findall(r"<script[^>]*>", body)
        assert scripts and all(" src=" in tag for tag in scripts), url
    (htmx_src,) = re.findall(r'<script src="([^"]+)"', client.get(pages[0]).content.decode())
    assert htmx_src.startswith("/static/")
    assert client.get(htmx_src).status_code == 200
