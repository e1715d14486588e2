from django.urls import reverse

from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction
from tests.cast import sentinel


def test_case_page_shows_only_granted_categories_and_is_audited(cast, as_user):
    client = as_user(cast.ngo_mentor)
    response = client.get(reverse("cases:case", args=[cast.case.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert sentinel("interventions") in body
    assert sentinel("social") in body
    assert sentinel("intelligence") not in body
    assert sentinel("identity") not in body
    assert "Sentinelia" not in body
    event = Event.objects.filter(action=EventAction.VIEW, case_id=cast.case.pk).get()
    assert event.actor_id == cast.ngo_mentor.pk
    assert verify() is None


def test_outsider_gets_404(cast, as_user):
    response = as_user(cast.outsider).get(reverse("cases:case", args=[cast.case.pk]))
    assert response.status_code == 404


def test_health(client, db):
    response = client.get("/health/")
    assert response.json()["database"] == "ok"
