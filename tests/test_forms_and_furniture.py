"""Forms say what is required, selects have meaningful first choices, one choice is
preselected; every page has a favicon; HTMX swaps need no inline style (CSP)."""

from __future__ import annotations

import json
import re

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from prepare.accounts.forms import SignInForm
from prepare.accounts.models import Organisation, User
from prepare.cases.lifecycle.forms import ReferralForm, TriageForm
from prepare.partnerships.forms import AgreementCreateForm
from prepare.partnerships.models import Partnership

OPTIONAL = "(optional)"


def label_of(field) -> str:
    html = render_to_string("includes/field.html", {"field": field})
    match = re.search(r"<(label|legend)[^>]*>(.*?)</\1>", html, re.DOTALL)
    assert match, html
    return re.sub(r"<[^>]+>", "", match.group(2))


def test_the_sign_in_code_is_not_marked_optional(db):
    label = label_of(SignInForm()["code"])
    assert OPTIONAL not in label
    assert "required here or on the next page" in label
    html = Client().get(reverse("accounts:login")).content.decode()
    assert 'Authentication code <span class="field__optional">(optional)' not in html
    assert "(required here or on the next page)" in html


def test_where_is_the_person_now_is_not_marked_optional(db):
    label = label_of(TriageForm()["active_status"])
    assert OPTIONAL not in label
    assert "(required for a multi-agency case)" in label


def test_a_really_optional_field_still_says_so(db):
    form = ReferralForm(
        partnerships=Partnership.objects.none(),
        organisations=Partnership.objects.none(),  # type: ignore[arg-type]
        categories=[],
    )
    assert OPTIONAL in label_of(form["identifier"])
    assert OPTIONAL not in label_of(form["given_name"])


def test_a_due_date_required_without_offset_is_not_optional(db):
    from prepare.plans.forms import ItemAddForm

    none = {"organisations": Organisation.objects.none(), "users": User.objects.none()}
    without = ItemAddForm(categories=["social"], offset=False, **none)
    assert OPTIONAL not in label_of(without["due_on"])
    assert without.fields["due_on"].required
    with_offset = ItemAddForm(categories=["social"], offset=True, **none)
    assert "(required unless you give days from the release)" in label_of(with_offset["due_on"])


def test_the_agreement_form_has_no_dashes(cast, as_user):
    form = AgreementCreateForm(can_copy=True)
    assert "---------" not in str(form["legal_basis"])
    assert "Choose a legal basis" in str(form["legal_basis"])
    page = as_user(cast.coordinator).get(
        reverse("partnerships:agreement_create", args=[cast.partnership.pk])
    )
    assert page.status_code == 200
    assert "---------" not in page.content.decode()


def test_the_referral_preselects_the_only_partnership_and_own_organisation(cast, as_user):
    page = as_user(cast.coordinator).get(reverse("cases:referral_create"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "---------" not in html
    partnership = re.search(r'<select name="partnership".*?</select>', html, re.DOTALL)
    assert partnership
    assert f'<option value="{cast.partnership.pk}" selected>' in partnership.group()
    assert "Choose a partnership" not in partnership.group()
    organisation = re.search(r'<select name="referring_organisation".*?</select>', html, re.DOTALL)
    assert organisation
    assert f'<option value="{cast.coordinator.organisation_id}" selected>' in organisation.group()


def test_every_page_links_a_favicon_served_by_the_app(cast, as_user):
    for client, url in (
        (Client(), reverse("accounts:login")),
        (as_user(cast.case_manager), reverse("cases:case", args=[cast.case.pk])),
    ):
        html = client.get(url).content.decode()
        link = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', html)
        assert link, url
        assert link.group(1).endswith("prepare/favicon.svg")
    assert finders.find("prepare/favicon.svg")
    served = Client().get("/static/prepare/favicon.svg")
    assert served.status_code == 200
    assert b"<svg" in b"".join(served.streaming_content)  # type: ignore[attr-defined]


def htmx_config(html: str) -> dict:
    match = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", html)
    assert match, "htmx-config meta tag missing"
    return json.loads(match.group(1))


def test_htmx_is_configured_to_write_no_inline_style(cast, as_user):
    html = as_user(cast.case_manager).get(reverse("cases:case", args=[cast.case.pk]))
    config = htmx_config(html.content.decode())
    assert config["includeIndicatorStyles"] is False
    assert "style" not in config["attributesToSettle"]
    assert config["allowEval"] is False
    with open(finders.find("prepare/prepare.css")) as sheet:
        css = sheet.read()
    assert ".htmx-indicator {" in css


def test_a_swapped_section_carries_no_inline_style(cast, as_user):
    client = as_user(cast.coordinator)
    for url in (
        reverse("cases:case", args=[cast.case.pk]),
        reverse("cases:caseload"),
        reverse("plans:case_checklist", args=[cast.case.pk]),
    ):
        response = client.get(url, headers={"HX-Request": "true"})
        assert response.status_code == 200, url
        body = response.content.decode()
        assert "style=" not in body, url
        assert "<style" not in body, url
