"""The API answers as its schema says: schemathesis, in-process, over every operation.

Operations are discovered from ``/api/schema/``: an operation added anywhere
is fuzzed without a change here. Each runs as two actors (a case manager and
a coordinator, each with a personal API token), with schema-valid and
schema-invalid data, a bounded number of examples per operation and a fixed
seed (``derandomize``), and every default check of schemathesis must pass:
no server error, documented status codes, content types and headers,
response bodies that match their schema, valid data accepted and invalid
data refused, authentication not ignored.

Path parameters that name the cast's objects (``PATH_IDS``) are set to real
ids, so that the operations reach their views instead of answering 404. An
operation that needs more set-up (an object of its own, e.g. a document or a
break-glass access) adds its parameter's id to ``PATH_IDS`` from the cast or
from ``extra_ids``; one that cannot be fuzzed meaningfully is listed in
``NOT_FUZZED`` with the reason (none today).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import yaml
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.config._checks import (
    POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES as POSITIVE_DEFAULT,
)
from schemathesis.config._checks import PositiveDataAcceptanceConfig
from schemathesis.generation import GenerationMode

from prepare.accounts.models import Role
from prepare.accounts.services import api_token_create
from prepare.assessments.assessing import assessment_start
from prepare.cases.models import CaseTeamMember
from prepare.partnerships.models import Membership
from tests.api.conftest import schema_of_api
from tests.assessments.support import completed_assessment, load_examples
from tests.cast import Cast
from tests.factories import UserFactory

EXAMPLES = 4
# The administrator last: its operations (organisations, partnerships) are
# fuzzed by someone who may call them, after the others were refused them.
ACTORS = ("case_manager", "coordinator", "administrator")
NOT_FUZZED: dict[str, str] = {}


def extra_ids(cast: Cast) -> dict[str, int]:
    """Ids of objects the cast does not name directly."""
    from prepare.access.categories import Category

    member = CaseTeamMember.objects.filter(case=cast.case).order_by("pk").first()
    assert member is not None
    # A draft and a completed needs assessment of K by the case manager (the
    # instruments loaded first): to read, save, complete, compare, correct.
    versions = load_examples()
    draft = assessment_start(
        actor=cast.case_manager, case_id=cast.case.pk, instrument="example-resettlement-needs"
    )
    done = completed_assessment(cast.case_manager, cast.case, versions["needs"])
    return {
        "case_id": cast.case.pk,
        "note_id": cast.notes[Category.JUSTICE].pk,
        "partnership_id": cast.partnership.pk,
        "member_id": member.pk,
        # An organisation and a membership outside the case manager's and the
        # coordinator's own (deactivating them signs nobody of theirs out); the
        # accounts API: the fuzzing actors manage no accounts (404/403).
        "organisation_id": cast.orgs["elsewhere"].pk,
        "account_id": cast.case_manager.pk,
        "membership_id": Membership.objects.get(
            partnership=cast.partnership, organisation=cast.orgs["ngo"]
        ).pk,
        "instrument_version_id": versions["risk"].pk,
        "assessment_id": draft.pk,
        "other_id": done.pk,
    }


@pytest.fixture
def raw_schema(db: None) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(schema_of_api())
    return loaded


@pytest.fixture
def wsgi_app(raw_schema: dict[str, Any]) -> Iterator[Any]:
    """Django's WSGI handler, sharing the test's database connection (Django's
    test client does the same): no request may close it."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_every_operation_answers_as_documented(
    cast: Cast, raw_schema: dict[str, Any], wsgi_app: Any
) -> None:
    schema = schemathesis.openapi.from_dict(raw_schema)
    schema.app = wsgi_app
    schema.config.update(base_url="http://localhost")
    # Valid data must be accepted, with the answers that are correct for data
    # the schema cannot judge: a stale version (409, 412) and a rule of the
    # domain (400: a hold in the past, an organisation outside the partnership,
    # a contact in the future). Every other default check runs as it is.
    schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
        expected_statuses=[*POSITIVE_DEFAULT, "400", "412", "428"]
    )
    ids = extra_ids(cast)
    actors = {
        **cast.actors,
        "administrator": UserFactory(username="admin", organisation=None, role=Role.ADMINISTRATOR),
    }
    tokens = {name: api_token_create(actor=actors[name], name="fuzz")[1] for name in ACTORS}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in NOT_FUZZED:
            continue
        operations += 1
        path_ids = {p.name: ids[p.name] for p in operation.path_parameters if p.name in ids}
        for actor, secret in tokens.items():
            # identity: the WSGI client does not undo the gzip of GZipMiddleware.
            headers = {"Authorization": f"Bearer {secret}", "Accept-Encoding": "identity"}
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                failures.extend(
                    _fuzz(
                        operation, mode, headers, path_ids, wsgi_app, label=f"{actor} {mode.value}"
                    )
                )
    assert operations >= 50
    assert not failures, "\n\n".join(failures)


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    headers: dict[str, str],
    path_ids: dict[str, int],
    app: Any,
    *,
    label: str,
) -> list[str]:
    found: list[str] = []
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_ids or None)

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        try:
            case.validate_response(response, headers=headers, transport_kwargs={"headers": headers})
        except (Exception, BaseExceptionGroup) as exc:  # collected, reported together
            found.append(f"{operation.label} [{label}]: {exc}")

    run()
    return found
