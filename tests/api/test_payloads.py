"""Generated payloads: any key the operation does not accept is refused with
400 and nothing is written (AC-04); no payload makes the API answer 5xx."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prepare.cases.models import CaseNote, CaseTeamMember
from tests.api.conftest import API, token_client
from tests.cast import sentinel

NOTE_FIELDS = {"category", "kind", "text"}
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)
FOREIGN_KEYS = st.text(min_size=1, max_size=12).filter(lambda k: k not in NOTE_FIELDS | {"version"})
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _snapshot(cast):
    return (
        sorted(CaseNote.objects.values_list("id", "version", "text", "category", "case_id")),
        sorted(CaseTeamMember.objects.values_list("id", "organisation_id", "user_id")),
    )


@SETTINGS
@given(extra=st.dictionaries(FOREIGN_KEYS, JSON_VALUES, min_size=1, max_size=4))
def test_note_create_refuses_any_foreign_key(cast, extra):
    client = token_client(cast.case_manager)
    before = _snapshot(cast)
    payload = {"category": "risk", "kind": "fact", "text": "Generated", **extra}
    response = client.post(
        f"{API}/cases/{cast.case.pk}/notes/", payload, content_type="application/json"
    )
    assert response.status_code == 400
    assert set(extra) <= set(response.json())
    assert _snapshot(cast) == before


@SETTINGS
@given(
    payload=st.dictionaries(
        st.sampled_from(["kind", "text", "version", "category", "case", "created_by"]),
        JSON_VALUES,
    ),
    if_match=st.none() | st.text(max_size=8),
)
def test_note_update_never_errors_and_never_writes_foreign_fields(cast, payload, if_match):
    client = token_client(cast.ngo_mentor)
    note = cast.notes["interventions"]
    # The mentor's own note: only the author's organisation edits a note.
    CaseNote.objects.filter(pk=note.pk).update(created_by=cast.ngo_mentor)
    headers = {} if if_match is None else {"If-Match": if_match}
    response = client.patch(
        f"{API}/cases/{cast.case.pk}/notes/{note.pk}/",
        payload,
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code < 500
    body = response.content.decode()
    assert sentinel("risk") not in body
    note.refresh_from_db()
    assert (note.category, note.case_id) == ("interventions", cast.case.pk)
    if response.status_code == 200:
        assert set(payload) <= {"kind", "text", "version"}
        assert note.version >= 2
