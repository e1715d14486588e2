"""Notes belong to their author's organisation (issue 9, item 4): only its
people edit a note, the others reply; every edit keeps the earlier version,
readable by exactly those who may read the note (and the version's category)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from prepare.access.errors import NotVisible, WriteForbidden
from prepare.accounts.services import api_token_create
from prepare.audit.models import Event
from prepare.cases.models import CaseNote, CaseNoteVersion
from prepare.cases.services import note_create, note_update
from tests.cast import Cast, sentinel
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REFUSAL = "This note was written by another organisation"


def police_note(cast: Cast, text: str = "POLICE-RISK-ASSESSMENT-1") -> CaseNote:
    """The police officer's risk assessment (police and probation write risk)."""
    return note_create(
        actor=cast.police_on_team,
        case_id=cast.case.pk,
        category="risk",
        kind="assessment",
        text=text,
    )


def row(note: CaseNote) -> tuple[Any, ...]:
    note.refresh_from_db()
    return (note.text, note.kind, note.version, note.updated_by_id, note.versions.count())


def api(user: Any) -> Client:
    _, raw = api_token_create(actor=user, name="notes")
    return Client(headers={"Authorization": f"Bearer {raw}"})


# --- Who edits --------------------------------------------------------------------------


def test_another_organisation_may_not_edit_the_note(cast: Cast) -> None:
    note = police_note(cast)
    before = row(note)
    with pytest.raises(WriteForbidden) as refused:
        note_update(actor=cast.case_manager, note_id=note.pk, version=1, text="Probation's view")
    assert REFUSAL in str(refused.value.args[0])
    assert row(note) == before


def test_the_page_refuses_another_organisations_edit_and_offers_a_reply(
    cast: Cast, as_user: Any
) -> None:
    note = police_note(cast)
    before = row(note)
    client = as_user(cast.case_manager)
    url = reverse("cases:note_edit", args=[cast.case.pk, note.pk])
    refused = client.post(url, {"kind": "fact", "text": "Probation's view", "version": "1"})
    assert refused.status_code == 403
    assert REFUSAL in refused.content.decode()
    assert client.get(url).status_code == 403
    assert row(note) == before
    page = client.get(reverse("cases:case", args=[cast.case.pk])).content.decode()
    assert url not in page
    assert reverse("cases:note_reply", args=[cast.case.pk, note.pk]) in page


def test_the_api_refuses_another_organisations_edit_403(cast: Cast) -> None:
    note = police_note(cast)
    client = api(cast.case_manager)
    before = row(note)
    response = client.patch(
        reverse("v1_case_note", args=[cast.case.pk, note.pk]),
        {"text": "Probation's view", "version": 1},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert REFUSAL in response.json()["detail"]
    assert row(note) == before


def test_a_colleague_of_the_author_may_edit(cast: Cast, as_user: Any) -> None:
    note = police_note(cast)
    colleague = UserFactory(
        username="police_colleague", organisation=cast.orgs["police"], role="practitioner"
    )
    # Named on the team like the author, so that the colleague reaches the case.
    cast.case.team.create(organisation=cast.orgs["police"], user=colleague, purpose="Risk")
    from prepare.access.grants import case_grants_rebuild

    case_grants_rebuild(cast.case)
    response = as_user(colleague).post(
        reverse("cases:note_edit", args=[cast.case.pk, note.pk]),
        {"kind": "assessment", "text": "Reviewed by a colleague", "version": "1"},
    )
    assert response.status_code == 302
    assert row(note)[:4] == ("Reviewed by a colleague", "assessment", 2, colleague.pk)


def test_the_author_may_not_edit_a_category_they_only_read(cast: Cast) -> None:
    # Police read justice; a justice note by a police officer (written when
    # allowed) cannot be edited once the category is read-only: plain 403.
    note = CaseNote.objects.create(
        case=cast.case,
        category="justice",
        kind="fact",
        text="x",
        created_by=cast.police_on_team,
        updated_by=cast.police_on_team,
    )
    with pytest.raises(WriteForbidden) as refused:
        note_update(actor=cast.police_on_team, note_id=note.pk, version=1, text="y")
    assert not refused.value.args


def test_who_does_not_read_the_note_gets_404(cast: Cast) -> None:
    note = police_note(cast)
    with pytest.raises(NotVisible):
        note_update(actor=cast.ngo_mentor, note_id=note.pk, version=1, text="y")


# --- Replies ------------------------------------------------------------------------------


def test_a_reply_answers_the_note_in_a_category_of_the_repliers_choice(
    cast: Cast, as_user: Any
) -> None:
    note = police_note(cast)
    client = as_user(cast.case_manager)
    url = reverse("cases:note_reply", args=[cast.case.pk, note.pk])
    form = client.get(url)
    assert form.status_code == 200
    body = form.content.decode()
    assert "POLICE-RISK-ASSESSMENT-1" in body
    assert 'value="intelligence"' not in body  # not one probation writes
    response = client.post(url, {"category": "social", "kind": "fact", "text": "PROBATION-REPLY-1"})
    assert response.status_code == 302
    reply = CaseNote.objects.get(text="PROBATION-REPLY-1")
    assert (reply.reply_to_id, reply.category, reply.case_id, reply.created_by_id) == (
        note.pk,
        "social",
        cast.case.pk,
        cast.case_manager.pk,
    )
    event = Event.objects.get(action="create", object_id=str(reply.pk))
    assert event.detail == {"reply_to": note.pk}
    # Shown with the note it answers: inside the note's article, after its text.
    page = client.get(reverse("cases:case", args=[cast.case.pk])).content.decode()
    start = page.index(f'id="note-{note.pk}"')
    replies = page.index('class="note__replies"', start)
    assert page.index("PROBATION-REPLY-1") > replies
    assert page.count("PROBATION-REPLY-1") == 1  # not listed again under social
    # The reply's category decides who reads it: the NGO reads social, not risk.
    ngo = as_user(cast.ngo_mentor).get(reverse("cases:case", args=[cast.case.pk]))
    ngo_body = ngo.content.decode()
    assert "PROBATION-REPLY-1" in ngo_body and "POLICE-RISK-ASSESSMENT-1" not in ngo_body


def test_a_reply_in_a_category_one_may_not_write_is_refused(cast: Cast, as_user: Any) -> None:
    note = police_note(cast)
    response = as_user(cast.case_manager).post(
        reverse("cases:note_reply", args=[cast.case.pk, note.pk]),
        {"category": "intelligence", "kind": "fact", "text": "NOPE"},
    )
    assert response.status_code == 403
    assert not CaseNote.objects.filter(text="NOPE").exists()


def test_a_reply_to_a_note_of_another_case_or_unseen_is_404(cast: Cast) -> None:
    note = police_note(cast)
    other = note_create(
        actor=cast.outsider, case_id=cast.other_case.pk, category="risk", kind="fact", text="o"
    )
    with pytest.raises(NotVisible):
        note_create(
            actor=cast.case_manager,
            case_id=cast.case.pk,
            category="risk",
            kind="fact",
            text="r",
            reply_to_id=other.pk,
        )
    with pytest.raises(NotVisible):  # the NGO does not read risk
        note_create(
            actor=cast.ngo_mentor,
            case_id=cast.case.pk,
            category="interventions",
            kind="fact",
            text="r",
            reply_to_id=note.pk,
        )
    assert not CaseNote.objects.filter(text="r").exists()


def test_the_api_creates_a_reply(cast: Cast) -> None:
    note = police_note(cast)
    response = api(cast.case_manager).post(
        reverse("v1_case_notes", args=[cast.case.pk]),
        {"category": "risk", "kind": "assessment", "text": "API-REPLY", "reply_to": note.pk},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.json()["reply_to"] == note.pk


# --- Rectification history ---------------------------------------------------------------


def edited_three_times(cast: Cast) -> CaseNote:
    note = police_note(cast, "FIRST-VERSION")
    note_update(actor=cast.police_on_team, note_id=note.pk, version=1, text="SECOND-VERSION")
    note_update(
        actor=cast.police_on_team, note_id=note.pk, version=2, text="THIRD-VERSION", kind="fact"
    )
    return note


def test_every_edit_keeps_the_earlier_version_in_order(cast: Cast, as_user: Any) -> None:
    note = edited_three_times(cast)
    versions = list(note.versions.order_by("version").values_list("version", "text", "kind"))
    assert versions == [(1, "FIRST-VERSION", "assessment"), (2, "SECOND-VERSION", "assessment")]
    kept = note.versions.get(version=2)
    assert (kept.category, kept.written_by_id, kept.replaced_by_id) == (
        "risk",
        cast.police_on_team.pk,
        cast.police_on_team.pk,
    )
    update = Event.objects.filter(action="update", object_id=str(note.pk)).latest("occurred_at")
    assert update.detail["kept_version"] == 2
    assert "SECOND-VERSION" not in str(update.detail)
    # Shown oldest first to a reader of risk from another organisation.
    body = (
        as_user(cast.case_manager)
        .get(reverse("cases:note_history", args=[cast.case.pk, note.pk]))
        .content.decode()
    )
    earlier = body.index("Earlier versions, oldest first")
    assert body.index("THIRD-VERSION") < earlier  # the current version, above
    assert earlier < body.index("FIRST-VERSION") < body.index("SECOND-VERSION")
    event = Event.objects.filter(action="view", object_id=str(note.pk)).latest("occurred_at")
    assert event.detail["versions"] == sorted(note.versions.values_list("pk", flat=True))


def test_a_stale_edit_keeps_no_version(cast: Cast) -> None:
    note = edited_three_times(cast)
    from prepare.locking import StaleVersion

    with pytest.raises(StaleVersion):
        note_update(actor=cast.police_on_team, note_id=note.pk, version=1, text="LATE")
    assert note.versions.count() == 2


def test_who_cannot_read_the_note_sees_neither_it_nor_its_history(cast: Cast, as_user: Any) -> None:
    note = edited_three_times(cast)
    client = as_user(cast.ngo_mentor)  # on the team, no risk
    response = client.get(reverse("cases:note_history", args=[cast.case.pk, note.pk]))
    assert response.status_code == 404
    assert "FIRST-VERSION" not in response.content.decode()
    api_response = api(cast.ngo_mentor).get(
        reverse("v1_case_note_versions", args=[cast.case.pk, note.pk])
    )
    assert api_response.status_code == 404
    assert "FIRST-VERSION" not in api_response.content.decode()


def test_a_version_is_read_only_by_who_reads_the_category_it_had(cast: Cast, as_user: Any) -> None:
    """An edit does not change a note's category; were a version's category ever
    another than the note's, it is read only by who reads that category."""
    note = police_note(cast)
    CaseNoteVersion.objects.create(
        note=note,
        case_id=cast.case.pk,
        category="intelligence",
        version=0,
        kind="fact",
        text=sentinel("intelligence") + " EARLIER",
        written_by=cast.police_on_team,
        written_at=note.created_at,
        replaced_by=cast.police_on_team,
    )
    probation = as_user(cast.case_manager).get(
        reverse("cases:note_history", args=[cast.case.pk, note.pk])
    )
    assert probation.status_code == 200
    assert sentinel("intelligence") not in probation.content.decode()
    listed = api(cast.case_manager).get(
        reverse("v1_case_note_versions", args=[cast.case.pk, note.pk])
    )
    assert listed.status_code == 200 and listed.json() == []
    police = api(cast.police_on_team).get(
        reverse("v1_case_note_versions", args=[cast.case.pk, note.pk])
    )
    assert [v["category"] for v in police.json()] == ["intelligence"]


def test_the_history_comes_on_demand_from_the_case_page(cast: Cast, as_user: Any) -> None:
    note = edited_three_times(cast)
    client = as_user(cast.case_manager)
    page = client.get(reverse("cases:case", args=[cast.case.pk])).content.decode()
    url = reverse("cases:note_history", args=[cast.case.pk, note.pk])
    assert f'hx-get="{url}"' in page
    assert "FIRST-VERSION" not in page  # not until asked
    partial = client.get(url, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert "<html" not in partial.content.decode() and "FIRST-VERSION" in partial.content.decode()


@pytest.mark.parametrize("edits", [1, 12])
def test_the_history_costs_the_same_whatever_its_length(
    cast: Cast, as_user: Any, django_assert_num_queries: Any, edits: int
) -> None:
    note = police_note(cast)
    for version in range(1, edits + 1):
        note_update(actor=cast.police_on_team, note_id=note.pk, version=version, text=f"v{version}")
    client = as_user(cast.case_manager)
    url = reverse("cases:note_history", args=[cast.case.pk, note.pk])
    client.get(url)
    # session, user, device; grants; the note (through the policy); its
    # versions; audit (stored, access index, check, head, seal, head update);
    # the navigation's counts; the request's transaction (2).
    with django_assert_num_queries(15):
        response = client.get(url)
    assert response.content.decode().count('class="note-history__version"') == edits
