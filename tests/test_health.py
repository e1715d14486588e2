"""``/health/``: JSON for the load balancer, 503 when the database fails."""

from __future__ import annotations

from unittest import mock

from django.db import OperationalError, connection
from django.db.backends.base.base import BaseDatabaseWrapper

from prepare.audit.models import Event


def test_healthy(client, db, django_assert_num_queries):
    with django_assert_num_queries(1):  # SELECT 1, outside the request transaction
        response = client.get("/health/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "database": "ok"}
    assert response["Cache-Control"] == "no-store"
    assert not response.cookies  # no session for a probe
    assert not Event.objects.exists()


def test_a_failing_query_answers_503_json(client, db):
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("boom SELECT")):
        response = client.get("/health/")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}
    assert b"boom" not in response.content


def test_an_unreachable_database_answers_503_json(client, db):
    # Connecting fails: the request must not even try to open its transaction.
    with mock.patch.object(
        BaseDatabaseWrapper, "ensure_connection", side_effect=OperationalError("no route")
    ):
        response = client.get("/health/")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}


def test_only_get(client, db):
    assert client.post("/health/").status_code == 405
