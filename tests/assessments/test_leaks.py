"""Sentinels in assessment evidence reach only actors who read the instrument's
category: in search (pages and API) here; the pages, the API and the PDF in
their own tests."""

from __future__ import annotations

import pytest

from prepare.accounts.models import User
from tests.assessments.support import completed_assessment, load_examples
from tests.cast import Cast, verified_client
from tests.oracle import ACTORS, access, users_of
from tests.search.test_search import api_client

pytestmark = pytest.mark.django_db

EVIDENCE = {"risk": "Riskevidence Quorvaxin", "social": "Needsevidence Plimtrova"}


@pytest.fixture
def assessed(cast: Cast) -> Cast:
    versions = load_examples()
    completed_assessment(
        cast.police_on_team, cast.case, versions["risk"], evidence=EVIDENCE["risk"]
    )
    completed_assessment(
        cast.case_manager, cast.case, versions["needs"], evidence=EVIDENCE["social"]
    )
    return cast


@pytest.mark.parametrize("actor", ACTORS)
def test_search_finds_assessment_evidence_only_for_readers_of_its_category(
    assessed: Cast, actor: str
) -> None:
    user = User.objects.get(pk=users_of(assessed)[actor].pk)
    reads = access(assessed, user, assessed.case).read
    page = verified_client(user)
    api = api_client(user)
    for category, text in EVIDENCE.items():
        # Searched by one word, looked for by the other (the page echoes the query).
        word, other = text.split()[1], text.split()[0]
        html = page.get("/search/", {"q": word}).content.decode()
        html = html.replace("<mark>", "").replace("</mark>", "")
        answer = api.get("/api/v1/search/", {"q": word})
        assert answer.status_code == 200
        shown = category in reads
        assert (other in html) is shown, (actor, category)
        assert (other in answer.content.decode()) is shown, (actor, category)
        assert (assessed.case.reference in answer.content.decode()) is shown, (actor, category)
