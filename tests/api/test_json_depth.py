"""Deeply nested JSON answers 400, never 500 (RecursionError): API writes and CSP reports."""

from __future__ import annotations

import re

import pytest
import yaml
from django.test import Client

from prepare.api.parsers import JsonTooDeep, json_depth, loads_limited
from prepare.cases.models import CaseNote
from tests.api.conftest import schema_of_api, token_client

DEEP = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


def test_depth_is_counted_outside_strings():
    assert json_depth('{"text": "[[[[{{{{"}') == 1
    assert json_depth('[[1, {"a": [2]}]]') == 4
    assert json_depth('"\\"[[["') == 0
    assert loads_limited('{"a": [1, {"b": "]]]["}]}') == {"a": [1, {"b": "]]]["}]}
    with pytest.raises(JsonTooDeep):
        loads_limited(DEEP)


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT])
def test_a_deep_body_to_an_api_write_answers_400(cast, body):
    client = token_client(cast.case_manager)
    before = CaseNote.objects.count()
    response = client.post(
        f"/api/v1/cases/{cast.case.pk}/notes/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested deeper than 32 levels" in response.json()["detail"]
    assert CaseNote.objects.count() == before


def test_no_api_write_answers_500_to_a_deep_body(cast):
    """Every write operation of the schema, with the cast's ids in its path."""
    schema = yaml.safe_load(schema_of_api())
    client = token_client(cast.coordinator)
    writes = 0
    for path, item in schema["paths"].items():
        for method in ("post", "put", "patch"):
            if method not in item:
                continue
            url = re.sub(r"\{case_id\}", str(cast.case.pk), path)
            url = re.sub(r"\{[a-z_]+\}", "1", url)
            response = client.generic(
                method.upper(), url, DEEP, content_type="application/json", HTTP_IF_MATCH='"1"'
            )
            writes += 1
            assert response.status_code < 500, (method, path)
            if response.status_code == 400:
                assert "nested deeper" in response.json()["detail"], (method, path)
    assert writes >= 20


def test_a_deep_csp_report_answers_400_without_sign_in(db):
    client = Client(enforce_csrf_checks=True)
    response = client.generic(
        "POST", "/account/csp-report/", DEEP.encode(), content_type="application/csp-report"
    )
    assert response.status_code == 400
    assert "nested too deeply" in response.content.decode()
