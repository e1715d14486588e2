"""What a transfer's grace period shows the old team (decision 0012).

The old team keeps reading, for the grace period, what it read before the
move: the records the sending partnership kept and those it handed over, as
they were handed over. Never what the receiving partnership writes after the
acceptance, nor its changes to a handed-over record: the cast's case K moves
from Testdam to Elsewhere, Elsewhere writes a note, a contact, a signal, a
checklist item and a document in a handed-over category and corrects a
handed-over note, and none of it reaches the old team in any format.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from prepare.access.categories import Category
from prepare.cases import services as case_services
from prepare.cases.models import CaseNote, Transfer
from prepare.cases.transfer.selectors import record_models
from prepare.documents.services import document_upload
from prepare.monitoring.models import Contact, ContactKind
from prepare.monitoring.services import contact_correct, contact_record, signal_raise
from prepare.plans.models import ChecklistItem
from prepare.plans.services import checklist_item_add, checklist_item_complete
from prepare.search.models import SearchEntry
from tests.api.conftest import token_client
from tests.cases.test_transfers import (
    HANDED,
    HX,
    KEPT,
    accept,
    fresh,
    get_urls,
    plant_every_record,
    propose_handing,
    shown,
)
from tests.cast import AGREEMENT, Cast, sentinel
from tests.monitoring.support import contact_sentinel
from tests.routes_table import body_of

# What the receiver writes after the acceptance, and its correction of a
# handed-over note: one word each, so that search can look for them.
WRITTEN = "Zebracornafter"
CORRECTED = "Quokkafixedit"
WHERE = Category.SOCIAL  # handed over; read by the old municipality and probation
# The old team, by the organisation whose agreement says what it read.
OLD_TEAM = {"coordinator": "municipality", "case_manager": "probation"}


def receiver_writes(cast: Cast) -> dict[str, Any]:
    """After the acceptance, Elsewhere's coordinator writes one record of each
    kind in ``WHERE``, corrects the handed-over contact of ``WHERE`` and
    completes its handed-over checklist item with a note."""
    actor = fresh(cast.outsider)
    k = cast.case.pk
    written = {
        "note": case_services.note_create(
            actor=actor, case_id=k, category=WHERE, kind="fact", text=f"{WRITTEN} note"
        ),
        "contact": contact_record(
            actor=actor,
            case_id=k,
            category=WHERE,
            kind=ContactKind.MEETING,
            occurred_at=timezone.now() - datetime.timedelta(minutes=5),
            summary=f"{WRITTEN} contact",
        ),
        "signal": signal_raise(
            actor=actor,
            case_id=k,
            severity="low",
            description=f"{WRITTEN} signal",
            category=WHERE,
        ),
        "checklist": checklist_item_add(
            actor=actor,
            case_id=k,
            title=f"{WRITTEN} item",
            category=WHERE,
            due_on=timezone.localdate() + datetime.timedelta(days=3),
        ),
        "document": document_upload(
            actor=actor,
            case_id=k,
            category=WHERE,
            title=f"{WRITTEN} document",
            upload=b"plain text",
            filename="after.txt",
        ),
    }
    contact = Contact.objects.get(case_id=k, category=WHERE, handed_over_by__isnull=False)
    item = ChecklistItem.objects.get(case_id=k, category=WHERE, handed_over_by__isnull=False)
    corrected = {
        "contact": contact_correct(
            actor=actor,
            contact_id=contact.pk,
            version=contact.version,
            reason="wrong day",
            summary=f"{CORRECTED} contact",
        ),
        "checklist": checklist_item_complete(
            actor=actor, item_id=item.pk, version=item.version, note=f"{CORRECTED} item"
        ),
    }
    return {"written": written, "corrected": corrected}


@pytest.fixture
def moved(cast: Cast, as_user: Any) -> dict[str, Any]:
    plant_every_record(cast)
    transfer = propose_handing(cast, HANDED)
    urls = get_urls(cast, transfer)  # the route tables name K's team entries: before they end
    accept(cast, as_user, transfer)
    transfer.refresh_from_db()
    return {"transfer": transfer, "urls": urls, **receiver_writes(cast)}


def clean(body: str) -> bool:
    return WRITTEN not in body and CORRECTED not in body


def test_the_records_handed_over_are_stamped_with_the_transfer_and_no_other(cast, moved):
    transfer: Transfer = moved["transfer"]
    stamps: dict[Any, set[Any]] = {}
    for model in record_models():
        for category, holder, stamp in model._default_manager.filter(
            case_id=cast.case.pk
        ).values_list("category", "partnership_id", "handed_over_by_id"):
            stamps.setdefault((category in HANDED, holder), set()).add(stamp)
    # Handed over: the receiver holds them, stamped; kept: the sender, unstamped;
    # written by the receiver afterwards (or the earlier version its correction
    # kept): held by the receiver, unstamped.
    assert stamps[(True, cast.other_partnership.pk)] == {transfer.pk, None}
    assert stamps[(False, cast.partnership.pk)] == {None}
    for record in moved["written"].values():
        record.refresh_from_db()
        assert record.handed_over_by_id is None
    # The index copies the stamp and the change time of its source.
    entries = SearchEntry.objects.filter(case=cast.case, kind="note")
    for note in CaseNote.objects.filter(case=cast.case):
        entry = entries.get(object_id=note.pk)
        assert (entry.handed_over_by_id, entry.updated_at) == (
            note.handed_over_by_id,
            note.updated_at,
        )
    for record in moved["corrected"].values():
        assert record.handed_over_by_id == transfer.pk
        assert record.updated_at > transfer.decided_at


def test_the_old_team_reads_nothing_the_receiver_wrote_in_any_format(cast, as_user, moved):
    urls = moved["urls"]
    summary = reverse("documents:case_summary", args=[cast.case.pk])
    assert summary in urls
    for actor, org in OLD_TEAM.items():
        user = fresh(cast.actors[actor])
        page, token = as_user(user), token_client(user)
        walked = 0
        for url in urls:
            api = url.startswith("/api/")
            response = (token if api else page).get(url, **({} if api else HX))
            assert clean(body_of(response)), (actor, url)
            walked += response.status_code == 200
        assert walked >= 15, actor  # the case page, its sections, the PDF, the API's reads
        # Prefixes: the search page repeats the query in its form.
        for words in ("zebracorn", "quokkafix", "zebracorn note", "sentinel social"):
            for found in (
                page.get(reverse("search:search"), {"q": words}),
                token.get("/api/v1/search/", {"q": words}),
            ):
                assert found.status_code == 200, (actor, words)
                assert clean(body_of(found)), (actor, words)

        # What it read before the move, it still reads: kept and handed over.
        case_page = body_of(page.get(reverse("cases:case", args=[cast.case.pk])))
        assert shown(case_page) == set(AGREEMENT[org]), actor
        assert contact_sentinel(Category.JUSTICE) in case_page, actor
        assert contact_sentinel(WHERE) not in case_page, actor  # corrected by the receiver
        pdf = body_of(page.get(summary))
        assert sentinel(Category.JUSTICE) in pdf, actor
        notes = token.get(f"/api/v1/cases/{cast.case.pk}/notes/").json()
        expected = {note.pk for category, note in cast.notes.items() if category in AGREEMENT[org]}
        assert {n["id"] for n in notes["results"]} == expected, actor
        found = body_of(page.get(reverse("search:search"), {"q": "sentinel social"}))
        assert sentinel(WHERE) in found, actor
        kept = sorted(set(AGREEMENT[org]) & KEPT)
        assert kept, actor
        found = body_of(token.get("/api/v1/search/", {"q": f"sentinel {kept[0]}"}))
        assert sentinel(kept[0]) in found, actor


def test_the_receiver_reads_what_it_wrote_so_the_old_teams_reading_can_fail(cast, as_user, moved):
    client = as_user(fresh(cast.outsider))
    case_page = body_of(client.get(reverse("cases:case", args=[cast.case.pk])))
    assert WRITTEN in case_page and f"{CORRECTED} contact" in case_page
    found = body_of(client.get(reverse("search:search"), {"q": "zebracorn"}))
    assert WRITTEN in found
    found = body_of(client.get(reverse("search:search"), {"q": "quokkafix"}))
    assert CORRECTED in found
    pdf = body_of(client.get(reverse("documents:case_summary", args=[cast.case.pk])))
    assert WRITTEN in pdf


def test_after_the_grace_period_the_old_team_reads_nothing(cast, as_user, moved):
    urls = moved["urls"]
    with time_machine.travel(timezone.now() + datetime.timedelta(days=14, minutes=1), tick=False):
        for actor in OLD_TEAM:
            user = fresh(cast.actors[actor])
            page, token = as_user(user), token_client(user)
            for url in urls:
                api = url.startswith("/api/")
                body = body_of((token if api else page).get(url, **({} if api else HX)))
                assert clean(body), (actor, url)
                assert shown(body) == set(), (actor, url)
            found = body_of(token.get("/api/v1/search/", {"q": "sentinel social"}))
            assert shown(found) == set(), actor


def test_a_record_the_receiver_holds_from_before_is_not_the_old_teams(cast, as_user):
    """Elsewhere keeps a record when it hands the case to Testdam, which later
    hands it back: Testdam's old team does not read Elsewhere's kept record,
    though it was written before the second acceptance."""
    plant_every_record(cast)
    accept(cast, as_user, propose_handing(cast, HANDED))
    kept_by_elsewhere = case_services.note_create(
        actor=fresh(cast.outsider),
        case_id=cast.case.pk,
        category=WHERE,
        kind="fact",
        text=f"{WRITTEN} before the return",
    )
    back = transfer_back(cast, as_user, [Category.JUSTICE])
    again = propose_handing(cast, [Category.JUSTICE, WHERE])
    accept(cast, as_user, again)

    kept_by_elsewhere.refresh_from_db()
    assert (kept_by_elsewhere.partnership_id, kept_by_elsewhere.handed_over_by_id) == (
        cast.other_partnership.pk,
        None,
    )
    assert back.status == "accepted"
    # Testdam's team ended with the return: its coordinator holds the grace.
    user = fresh(cast.coordinator)
    body = body_of(as_user(user).get(reverse("cases:case", args=[cast.case.pk])))
    assert WRITTEN not in body
    assert sentinel(Category.JUSTICE) in body  # what Testdam handed over again
    assert not CaseNote.objects.visible_to(user).filter(pk=kept_by_elsewhere.pk).exists()


def transfer_back(cast: Cast, as_user: Any, categories: list[str]) -> Transfer:
    """Elsewhere hands the case back to Testdam, accepted by Testdam's coordinator."""
    from prepare.cases.transfer import services as transfer_services

    transfer = transfer_services.transfer_propose(
        actor=fresh(cast.outsider),
        case_id=cast.case.pk,
        to_partnership_id=cast.partnership.pk,
        handover_summary="Back to Testdam.",
        summary_category=Category.JUSTICE,
        categories=categories,
    )
    transfer_services.transfer_accept(actor=fresh(cast.coordinator), transfer_id=transfer.pk)
    transfer.refresh_from_db()
    return transfer


def test_the_migration_stamps_what_an_earlier_acceptance_handed_over(cast, as_user):
    """Records handed over before the stamp existed: the migration's inference
    from their times gives the stamps an acceptance gives, and leaves the
    receiver's later records unstamped."""
    from django.apps import apps

    from prepare.cases.transfer.backfill import stamp_handed_over

    plant_every_record(cast)
    accept(cast, as_user, propose_handing(cast, HANDED))
    after = case_services.note_create(
        actor=fresh(cast.outsider), case_id=cast.case.pk, category=WHERE, kind="fact", text="x"
    )

    def stamps() -> dict[tuple[str, int], int | None]:
        return {
            (model._meta.label, pk): stamp
            for model in record_models()
            for pk, stamp in model._default_manager.values_list("pk", "handed_over_by_id")
        }

    given = stamps()
    assert given[(CaseNote._meta.label, after.pk)] is None
    assert sum(stamp is not None for stamp in given.values()) >= 20
    for model in record_models():
        model._default_manager.update(handed_over_by=None)
    for app_label in ("cases", "monitoring", "plans", "documents"):
        stamp_handed_over(apps, app_label)
    assert stamps() == given
