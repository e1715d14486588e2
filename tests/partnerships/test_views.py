"""Partnership pages and the information-sharing agreement grid, acted by the cast."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from prepare.access.categories import Category
from prepare.accounts.models import OrganisationType
from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction
from prepare.audit.services import audit_record
from prepare.partnerships.access_changes.services import agreement_change_submit
from prepare.partnerships.models import AccessChangeRequest, CategoryGrant, SharingAgreement
from prepare.partnerships.services import agreement_digest
from tests.cast import AGREEMENT, current_code, sentinel
from tests.factories import AgreementFactory, MembershipFactory, OrganisationFactory
from tests.partnerships.html import form_values, select_labels, table_with_caption

LABELS = {"": "No access", "read": "Read", "write": "Read and write"}
ORG_NAMES = {
    "municipality": "City of Testdam",
    "probation": "Probation Testdam",
    "police": "Police Testdam",
    "ngo": "Exit Testdam",
}

# Every signed-in page: session, user, second-factor device, the user's grants
# (one query), the navigation's counts, and the request's transaction (a
# savepoint pair here, BEGIN and COMMIT in production).
REQUEST_OVERHEAD = 7
# The first request of a session (each page below is one), and then one a
# minute, records the session's last activity (a savepoint pair and the update).
SESSION_SAVE = 3
# Queries per page, the same for the cast and with more members and agreements.
LIST_QUERIES = REQUEST_OVERHEAD + SESSION_SAVE + 1  # partnerships with member counts
DETAIL_QUERIES = REQUEST_OVERHEAD + SESSION_SAVE + 4  # partnership, members, agreements, cells
# partnership, agreement, members, cells, the change waiting for approval, and
# whether anyone else could approve a widening
EDIT_GET_QUERIES = REQUEST_OVERHEAD + SESSION_SAVE + 6
CREATE_GET_QUERIES = REQUEST_OVERHEAD + SESSION_SAVE + 2  # partnership, agreement in force
# Saving a narrowing: the grid as on the edit page (4); in the service, the
# agreement, its cells, the members and the versions it could overlap (4),
# then a savepoint pair, the locked agreement, its cells, the rows to change,
# the pending changes it supersedes, the write (one statement), and the audit
# event (stored, then sealed: check, chain head, seal, head update). A save
# answers with a redirect: no page, no bell.
SAVE_QUERIES = REQUEST_OVERHEAD - 1 + 4 + 4 + 2 + 4 + 1 + 5


def grid_snapshot(agreement: SharingAgreement) -> set[tuple[int, str, str]]:
    return set(
        CategoryGrant.objects.filter(agreement=agreement).values_list(
            "organisation_id", "category", "access"
        )
    )


def detail_url(cast) -> str:
    return reverse("partnerships:detail", args=[cast.partnership.pk])


def edit_url(cast, agreement=None) -> str:
    agreement = agreement or cast.agreement
    return reverse("partnerships:agreement_edit", args=[cast.partnership.pk, agreement.pk])


def cell(cast, org_key: str, category: str) -> str:
    return f"cell-{cast.orgs[org_key].pk}-{category}"


def loaded_form(client, url: str) -> dict[str, str]:
    response = client.get(url)
    assert response.status_code == 200
    values = form_values(response.content.decode(), action=url)
    values.pop("csrfmiddlewaretoken", None)
    return values


def agreement_changes() -> list[Event]:
    return list(Event.objects.filter(action=EventAction.AGREEMENT_CHANGE).order_by("seq"))


# --- List -------------------------------------------------------------------------


def test_list_shows_the_partnerships_of_the_users_organisation(
    cast, as_user, django_assert_num_queries
):
    client = as_user(cast.police_on_team)
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(reverse("partnerships:list"))
    assert response.status_code == 200
    rows = table_with_caption(response.content.decode(), "The partnerships your organisation")
    assert rows[1:] == [["Testdam partnership", "TST", "City of Testdam", "4", "Member"]]
    assert "Elsewhere partnership" not in response.content.decode()


def test_list_marks_the_partnership_the_coordinator_runs(cast, as_user):
    response = as_user(cast.coordinator).get(reverse("partnerships:list"))
    rows = table_with_caption(response.content.decode(), "The partnerships your organisation")
    assert rows[1][-1] == "You coordinate it"


def test_list_counts_only_current_members_and_stays_one_query(
    cast, as_user, django_assert_num_queries
):
    today = timezone.localdate()
    MembershipFactory(
        partnership=cast.partnership,
        starts_on=today - datetime.timedelta(days=400),
        ends_on=today - datetime.timedelta(days=1),
    )
    for _ in range(3):
        MembershipFactory(partnership=cast.partnership)
    client = as_user(cast.police_on_team)
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(reverse("partnerships:list"))
    rows = table_with_caption(response.content.decode(), "The partnerships your organisation")
    assert rows[1][3] == "7"


def test_list_of_an_organisation_without_partnership_is_empty(cast, as_user):
    from tests.factories import UserFactory

    loner = UserFactory(organisation=OrganisationFactory())
    response = as_user(loner).get(reverse("partnerships:list"))
    assert response.status_code == 200
    assert "not a member of any partnership" in response.content.decode()
    assert "Testdam partnership" not in response.content.decode()


# --- Detail -------------------------------------------------------------------------


def expected_grid_rows(cast, agreement_cells: dict[str, dict[str, str]]) -> list[list[str]]:
    header = ["Organisation", *[str(c.label) for c in Category]]
    rows = [header]
    order = ["municipality", "ngo", "police", "probation"]  # coordinating first, then by name
    for key in order:
        name = ORG_NAMES[key] + (" (coordinating)" if key == "municipality" else "")
        cells = agreement_cells.get(key, {})
        rows.append([name, *[LABELS[cells.get(c.value, "")] for c in Category]])
    return rows


def test_member_sees_members_and_the_agreement_grid(cast, as_user, django_assert_num_queries):
    client = as_user(cast.police_on_team)
    with django_assert_num_queries(DETAIL_QUERIES):
        response = client.get(detail_url(cast))
    assert response.status_code == 200
    html = response.content.decode()
    grid = table_with_caption(html, "Access per organisation and category under “Covenant”")
    assert grid == expected_grid_rows(cast, AGREEMENT)
    members = table_with_caption(html, "Member organisations of Testdam partnership")
    assert [r[:2] for r in members[1:]] == [
        ["City of Testdam (coordinating)", "Local authority"],
        ["Exit Testdam", "Exit work / NGO"],
        ["Police Testdam", "Police"],
        ["Probation Testdam", "Probation"],
    ]
    assert "Covenant art. 4" in html
    # Only the coordinator is offered the edit links.
    assert edit_url(cast) not in html
    assert reverse("partnerships:agreement_create", args=[cast.partnership.pk]) not in html


def test_coordinator_sees_edit_links(cast, as_user):
    html = as_user(cast.coordinator).get(detail_url(cast)).content.decode()
    assert edit_url(cast) in html
    assert reverse("partnerships:agreement_create", args=[cast.partnership.pk]) in html


@pytest.mark.parametrize("actor", ["outsider"])
def test_non_member_gets_404(cast, as_user, actor):
    client = as_user(cast.actors[actor])
    assert client.get(detail_url(cast)).status_code == 404
    assert client.get(edit_url(cast)).status_code == 404
    create = reverse("partnerships:agreement_create", args=[cast.partnership.pk])
    assert client.get(create).status_code == 404


def test_unknown_partnership_is_404(cast, as_user):
    url = reverse("partnerships:detail", args=[cast.other_partnership.pk + 1000])
    assert as_user(cast.coordinator).get(url).status_code == 404


def test_former_member_gets_404(cast, as_user):
    from prepare.partnerships.models import Membership

    Membership.objects.filter(partnership=cast.partnership, organisation=cast.orgs["ngo"]).update(
        ends_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    assert as_user(cast.ngo_mentor).get(detail_url(cast)).status_code == 404


def test_detail_queries_do_not_grow_with_members_and_agreements(
    cast, as_user, django_assert_num_queries
):
    today = timezone.localdate()
    for _ in range(5):
        MembershipFactory(partnership=cast.partnership)
    for years in (2, 3, 4):
        AgreementFactory(
            partnership=cast.partnership,
            title=f"Old covenant {years}",
            valid_from=today - datetime.timedelta(days=365 * years),
            valid_until=today - datetime.timedelta(days=365 * years - 300),
        )
    client = as_user(cast.police_on_team)
    with django_assert_num_queries(DETAIL_QUERIES):
        response = client.get(detail_url(cast))
    html = response.content.decode()
    assert "Old covenant 3" in html
    grid = table_with_caption(html, "Access per organisation and category under “Covenant”")
    assert len(grid) == 1 + 4 + 5


# --- Editing the grid -----------------------------------------------------------------


def test_edit_form_has_one_labelled_select_per_cell(cast, as_user, django_assert_num_queries):
    client = as_user(cast.coordinator)
    with django_assert_num_queries(EDIT_GET_QUERIES):
        response = client.get(edit_url(cast))
    assert response.status_code == 200
    html = response.content.decode()
    labels = select_labels(html, action=edit_url(cast))
    assert len(labels) == 4 * len(Category)
    assert all(name.startswith("cell-") for name in labels)
    assert labels[cell(cast, "police", "intelligence")] == "Police Testdam — Intelligence"
    values = form_values(html, action=edit_url(cast))
    assert values[cell(cast, "police", "intelligence")] == "write"
    assert values[cell(cast, "ngo", "risk")] == "none"
    assert values["digest"] == agreement_digest(cast.agreement)


def test_coordinator_removes_a_cell_and_it_applies_at_once(cast, as_user):
    mentor = as_user(cast.ngo_mentor)
    case_url = reverse("cases:case", args=[cast.case.pk])
    assert sentinel("social") in mentor.get(case_url).content.decode()

    coordinator = as_user(cast.coordinator)
    data = loaded_form(coordinator, edit_url(cast))
    data[cell(cast, "ngo", "social")] = "none"
    response = coordinator.post(edit_url(cast), data, follow=True)

    assert response.redirect_chain[-1][0].endswith(
        detail_url(cast) + f"#agreement-{cast.agreement.pk}"
    )
    assert "Applied at once, as it narrows access: 1 cell changed." in response.content.decode()
    assert not CategoryGrant.objects.filter(
        agreement=cast.agreement, organisation=cast.orgs["ngo"], category="social"
    ).exists()
    assert AccessChangeRequest.objects.count() == 0
    [event] = agreement_changes()
    assert event.actor_id == cast.coordinator.pk
    assert event.object_id == str(cast.agreement.pk)
    assert event.detail["changes"] == [
        {"organisation": cast.orgs["ngo"].pk, "category": "social", "from": "read", "to": ""}
    ]
    assert event.detail["legal_reference"] == "Covenant art. 4"
    body = mentor.get(case_url).content.decode()
    assert sentinel("social") not in body
    assert verify() is None


def test_coordinator_revokes_and_changes_several_cells(cast, as_user):
    coordinator = as_user(cast.coordinator)
    data = loaded_form(coordinator, edit_url(cast))
    data[cell(cast, "ngo", "social")] = "none"
    data[cell(cast, "police", "risk")] = "read"
    data[cell(cast, "probation", "ideology")] = "write"
    data["code"] = current_code(cast.coordinator)
    response = coordinator.post(edit_url(cast), data, follow=True)
    body = response.content.decode()
    assert "Applied at once, as it narrows access: 2 cells changed." in body
    assert "waits for a second approver" in body
    expected = {
        (o.pk, c, a)
        for key, cells in AGREEMENT.items()
        for c, a in cells.items()
        for o in [cast.orgs[key]]
    }
    expected -= {(cast.orgs["ngo"].pk, "social", "read"), (cast.orgs["police"].pk, "risk", "write")}
    expected |= {(cast.orgs["police"].pk, "risk", "read")}
    # The widening part (probation gains ideology) waits for a second approver.
    assert grid_snapshot(cast.agreement) == expected
    [pending] = AccessChangeRequest.objects.all()
    assert pending.payload["cells"] == [
        {
            "organisation": cast.orgs["probation"].pk,
            "category": "ideology",
            "from": "",
            "to": "write",
        }
    ]
    [event] = agreement_changes()
    assert len(event.detail["changes"]) == 2
    mentor_page = as_user(cast.ngo_mentor).get(reverse("cases:case", args=[cast.case.pk]))
    assert sentinel("social") not in mentor_page.content.decode()


def test_saving_an_unchanged_grid_changes_nothing_and_logs_nothing(cast, as_user):
    coordinator = as_user(cast.coordinator)
    before = grid_snapshot(cast.agreement)
    response = coordinator.post(
        edit_url(cast), loaded_form(coordinator, edit_url(cast)), follow=True
    )
    assert "Nothing changed" in response.content.decode()
    assert grid_snapshot(cast.agreement) == before
    assert agreement_changes() == []


@pytest.mark.parametrize("actor", ["case_manager", "police_on_team", "ngo_mentor", "auditor"])
def test_member_who_does_not_coordinate_gets_403_and_nothing_changes(cast, as_user, actor):
    data = loaded_form(as_user(cast.coordinator), edit_url(cast))
    data[cell(cast, "ngo", "intelligence")] = "write"
    before = grid_snapshot(cast.agreement)
    client = as_user(cast.actors[actor])
    assert client.get(edit_url(cast)).status_code == 403
    assert client.post(edit_url(cast), data).status_code == 403
    assert grid_snapshot(cast.agreement) == before
    assert agreement_changes() == []


def test_outsider_posting_the_grid_gets_404_and_nothing_changes(cast, as_user):
    data = loaded_form(as_user(cast.coordinator), edit_url(cast))
    data[cell(cast, "ngo", "intelligence")] = "write"
    before = grid_snapshot(cast.agreement)
    assert as_user(cast.outsider).post(edit_url(cast), data).status_code == 404
    assert grid_snapshot(cast.agreement) == before


def test_agreement_of_another_partnership_is_404(cast, as_user):
    other = SharingAgreement.objects.get(partnership=cast.other_partnership)
    url = reverse("partnerships:agreement_edit", args=[cast.partnership.pk, other.pk])
    assert as_user(cast.coordinator).get(url).status_code == 404


def test_stale_digest_is_refused_with_409_and_keeps_the_users_choices(cast, as_user):
    coordinator = as_user(cast.coordinator)
    data = loaded_form(coordinator, edit_url(cast))
    # Another coordinator saves in between (a narrowing: it applies at once).
    agreement_change_submit(
        actor=cast.coordinator,
        agreement_id=cast.agreement.pk,
        cells={(cast.orgs["police"].pk, "intelligence"): "read"},
        expected_digest=data["digest"],
    )
    between = grid_snapshot(cast.agreement)
    data[cell(cast, "ngo", "risk")] = "write"

    response = coordinator.post(edit_url(cast), data)

    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone else changed this grid" in html
    assert grid_snapshot(cast.agreement) == between
    assert len(agreement_changes()) == 1  # only the other coordinator's
    shown = form_values(html, action=edit_url(cast))
    assert shown[cell(cast, "ngo", "risk")] == "write"
    # The cell the other coordinator changed shows what is stored now.
    assert shown[cell(cast, "police", "intelligence")] == "write"
    assert "Saved now:" in html
    # Saving again, now based on the current grid, proposes the user's choices:
    # the police's write goes back up (a widening) with the NGO's new cell.
    shown.pop("csrfmiddlewaretoken", None)
    assert shown["digest"] == agreement_digest(cast.agreement)
    shown["code"] = current_code(cast.coordinator)
    again = coordinator.post(edit_url(cast), shown)
    assert again.status_code == 302
    [pending] = AccessChangeRequest.objects.all()
    assert {(c["category"], c["to"]) for c in pending.payload["cells"]} == {
        ("risk", "write"),
        ("intelligence", "write"),
    }
    assert grid_snapshot(cast.agreement) == between


def test_missing_digest_is_refused_with_428(cast, as_user):
    coordinator = as_user(cast.coordinator)
    data = loaded_form(coordinator, edit_url(cast))
    data[cell(cast, "ngo", "risk")] = "read"
    del data["digest"]
    before = grid_snapshot(cast.agreement)
    response = coordinator.post(edit_url(cast), data)
    assert response.status_code == 428
    assert grid_snapshot(cast.agreement) == before
    assert agreement_changes() == []


@pytest.mark.parametrize("bad", ["admin", "", "READ"])
def test_invalid_cell_value_is_refused_and_nothing_saved(cast, as_user, bad):
    coordinator = as_user(cast.coordinator)
    data = loaded_form(coordinator, edit_url(cast))
    data[cell(cast, "ngo", "risk")] = "read"
    data[cell(cast, "police", "health")] = bad
    before = grid_snapshot(cast.agreement)
    response = coordinator.post(edit_url(cast), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "There is a problem" in html
    assert f'href="#id_{cell(cast, "police", "health")}"' in html
    assert grid_snapshot(cast.agreement) == before
    assert agreement_changes() == []


def test_a_cell_missing_from_the_request_is_an_error_not_a_revocation(cast, as_user):
    coordinator = as_user(cast.coordinator)
    data = loaded_form(coordinator, edit_url(cast))
    del data[cell(cast, "police", "intelligence")]
    before = grid_snapshot(cast.agreement)
    assert coordinator.post(edit_url(cast), data).status_code == 400
    assert grid_snapshot(cast.agreement) == before


def test_service_refuses_a_cell_for_an_organisation_outside_the_partnership(cast):
    from django.core.exceptions import ValidationError

    before = grid_snapshot(cast.agreement)
    with pytest.raises(ValidationError):
        agreement_change_submit(
            actor=cast.coordinator,
            agreement_id=cast.agreement.pk,
            cells={(cast.orgs["elsewhere"].pk, "risk"): "read"},
            expected_digest=agreement_digest(cast.agreement),
            code=current_code(cast.coordinator),
        )
    assert grid_snapshot(cast.agreement) == before


def test_leftover_cell_of_a_non_member_is_shown_and_can_be_revoked(cast, as_user):
    CategoryGrant.objects.create(
        agreement=cast.agreement,
        organisation=cast.orgs["elsewhere"],
        category="risk",
        access="read",
    )
    coordinator = as_user(cast.coordinator)
    data = loaded_form(coordinator, edit_url(cast))
    assert data[cell(cast, "elsewhere", "risk")] == "read"
    data[cell(cast, "elsewhere", "risk")] = "none"
    assert coordinator.post(edit_url(cast), data).status_code == 302
    assert (
        not CategoryGrant.objects.filter(organisation=cast.orgs["elsewhere"])
        .filter(agreement=cast.agreement)
        .exists()
    )


# --- New versions ---------------------------------------------------------------------


def create_url(cast) -> str:
    return reverse("partnerships:agreement_create", args=[cast.partnership.pk])


def version_data(**overrides) -> dict[str, str]:
    data = {
        "title": "Covenant 2026",
        "legal_basis": "statute",
        "legal_reference": "Municipalities Act art. 12",
        "valid_from": timezone.localdate().isoformat(),
        "valid_until": "",
        "copy_grid": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_create_form_for_the_coordinator(cast, as_user, django_assert_num_queries):
    client = as_user(cast.coordinator)
    with django_assert_num_queries(CREATE_GET_QUERIES):
        response = client.get(create_url(cast))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="copy_grid"' in html
    assert "The agreement in force today is “Covenant”" in html


def test_new_version_copies_the_grid_and_supersedes_the_old_one(cast, as_user):
    client = as_user(cast.coordinator)
    response = client.post(create_url(cast), version_data())
    new = SharingAgreement.objects.get(title="Covenant 2026")
    assert response.status_code == 302
    assert response["Location"] == edit_url(cast, new)
    cast.agreement.refresh_from_db()
    assert cast.agreement.valid_until == timezone.localdate() - datetime.timedelta(days=1)
    assert new.legal_basis == "statute"
    assert grid_snapshot(new) == grid_snapshot(cast.agreement)
    [event] = agreement_changes()
    assert event.object_id == str(new.pk)
    assert event.detail["change"] == "created"
    assert event.detail["copied_from"] == cast.agreement.pk
    assert event.detail["superseded"] == [cast.agreement.pk]
    assert event.detail["cells"] == len(grid_snapshot(cast.agreement))
    # The copy keeps access as it was.
    body = as_user(cast.ngo_mentor).get(reverse("cases:case", args=[cast.case.pk]))
    assert sentinel("interventions") in body.content.decode()
    # The detail page lists the old agreement as past.
    html = client.get(detail_url(cast)).content.decode()
    assert html.index("Covenant 2026") < html.index(">Past<")


def test_new_version_without_copy_starts_empty_and_applies_at_once(cast, as_user):
    client = as_user(cast.coordinator)
    response = client.post(create_url(cast), version_data(copy_grid=None))
    assert response.status_code == 302
    new = SharingAgreement.objects.get(title="Covenant 2026")
    assert grid_snapshot(new) == set()
    body = as_user(cast.ngo_mentor).get(reverse("cases:case", args=[cast.case.pk]))
    assert sentinel("interventions") not in body.content.decode()


def test_future_version_leaves_the_current_one_in_force_until_then(cast, as_user):
    start = timezone.localdate() + datetime.timedelta(days=30)
    client = as_user(cast.coordinator)
    response = client.post(create_url(cast), version_data(valid_from=start.isoformat()))
    assert response.status_code == 302
    cast.agreement.refresh_from_db()
    assert cast.agreement.valid_until == start - datetime.timedelta(days=1)
    html = client.get(detail_url(cast)).content.decode()
    assert ">Upcoming<" in html


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"valid_from": "2020-01-01"}, "cannot start in the past"),
        ({"title": ""}, "This field is required"),
        ({"legal_basis": "whim"}, "Select a valid choice"),
        (
            {"valid_until": (timezone.localdate() - datetime.timedelta(days=3)).isoformat()},
            "cannot be before the start date",
        ),
    ],
)
def test_invalid_new_version_is_refused_and_nothing_saved(cast, as_user, overrides, message):
    client = as_user(cast.coordinator)
    response = client.post(create_url(cast), version_data(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert SharingAgreement.objects.filter(partnership=cast.partnership).count() == 1
    cast.agreement.refresh_from_db()
    assert cast.agreement.valid_until is None
    assert agreement_changes() == []


def test_new_version_must_start_after_the_latest_one(cast, as_user):
    start = timezone.localdate() + datetime.timedelta(days=30)
    client = as_user(cast.coordinator)
    assert (
        client.post(create_url(cast), version_data(valid_from=start.isoformat())).status_code == 302
    )
    response = client.post(create_url(cast), version_data(title="Too early"))
    assert response.status_code == 400
    assert "a new version must start after it" in response.content.decode()
    assert not SharingAgreement.objects.filter(title="Too early").exists()


@pytest.mark.parametrize("actor", ["case_manager", "police_on_team", "trainer"])
def test_non_coordinator_cannot_create_a_version(cast, as_user, actor):
    client = as_user(cast.actors[actor])
    assert client.get(create_url(cast)).status_code == 403
    assert client.post(create_url(cast), version_data()).status_code == 403
    assert SharingAgreement.objects.filter(partnership=cast.partnership).count() == 1
    assert agreement_changes() == []


def test_coordinator_of_another_partnership_cannot_create_here(cast, as_user):
    assert as_user(cast.outsider).post(create_url(cast), version_data()).status_code == 404
    assert SharingAgreement.objects.filter(partnership=cast.partnership).count() == 1


def test_views_answer_only_their_methods(cast, as_user):
    client = as_user(cast.coordinator)
    assert client.post(reverse("partnerships:list")).status_code == 405
    assert client.post(detail_url(cast)).status_code == 405
    assert client.delete(edit_url(cast)).status_code == 405


def test_organisation_types_are_shown(cast, as_user):
    org = OrganisationFactory(name="Housing Testdam", type=OrganisationType.HOUSING)
    MembershipFactory(partnership=cast.partnership, organisation=org)
    html = as_user(cast.coordinator).get(detail_url(cast)).content.decode()
    members = table_with_caption(html, "Member organisations of Testdam partnership")
    assert ["Housing Testdam", "Housing"] in [r[:2] for r in members]


def test_service_refuses_a_version_starting_in_the_past(cast):
    from django.core.exceptions import ValidationError

    from prepare.partnerships.services import agreement_create

    with pytest.raises(ValidationError) as excinfo:
        agreement_create(
            actor=cast.coordinator,
            partnership_id=cast.partnership.pk,
            title="Backdated",
            legal_basis="covenant",
            legal_reference="Covenant art. 5",
            valid_from=timezone.localdate() - datetime.timedelta(days=1),
        )
    assert "valid_from" in excinfo.value.error_dict
    assert not SharingAgreement.objects.filter(title="Backdated").exists()
    cast.agreement.refresh_from_db()
    assert cast.agreement.valid_until is None


def test_saving_the_grid_costs_the_same_for_one_cell_or_many(
    cast, as_user, django_assert_num_queries
):
    audit_record(action=EventAction.LOGIN, actor=cast.coordinator)  # the chain exists
    coordinator = as_user(cast.coordinator)
    one = loaded_form(coordinator, edit_url(cast))
    one[cell(cast, "ngo", "social")] = "none"
    with django_assert_num_queries(SAVE_QUERIES):
        assert coordinator.post(edit_url(cast), one).status_code == 302
    many = loaded_form(coordinator, edit_url(cast))
    for key, cells in AGREEMENT.items():
        for category, access in cells.items():
            if access == "write":
                many[cell(cast, key, category)] = "read"  # lowers each write
    many[cell(cast, "police", "identity")] = "none"  # a deletion
    with django_assert_num_queries(SAVE_QUERIES + 1):  # + one UPDATE
        assert coordinator.post(edit_url(cast), many).status_code == 302
    [_, event] = agreement_changes()
    lowered = sum(a == "write" for cells in AGREEMENT.values() for a in cells.values())
    assert len(event.detail["changes"]) == lowered + 1
