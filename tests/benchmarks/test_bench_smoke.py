"""The benchmark suite still runs: a tiny region, the grant check, each in-process
scenario once. Nothing here is timed; ``make bench`` measures."""

from __future__ import annotations

import pytest
from django.utils import timezone

from benchmarks.region import GrantIndexMismatch, RegionSpec, check_grant_index, generate
from benchmarks.scenarios import (
    BENCH_NOTE,
    bench_pages,
    remove_bench_notes,
    run_all,
    search_pages,
)
from prepare.access.models import CaseGrant
from prepare.cases.models import Case, CaseNote, CaseTeamMember, KeyDate
from prepare.plans.models import ChecklistItem

CASES = 500

pytestmark = pytest.mark.django_db


def test_region_has_its_shape_and_the_grant_check_catches_a_bad_row():
    region = generate(RegionSpec(cases=CASES, seed=3), write_marker=False)

    assert Case.objects.count() == CASES == region.rows["case"]
    assert region.grant_check == {"sampled": 200, "differing": 0}
    # The proportions the release board and the task list depend on.
    assert 1.5 < CaseNote.objects.count() / CASES < 3.5
    assert 0.8 < ChecklistItem.objects.count() / CASES < 2.5
    assert KeyDate.objects.filter(kind="expected_release").count() > CASES // 5
    assert CaseTeamMember.objects.filter(user__isnull=False).exists()
    assert CaseTeamMember.objects.filter(ends_on__isnull=False).exists()
    assert ChecklistItem.objects.filter(status="open", due_on__lt=timezone.localdate()).exists()
    # The search index is written by its triggers as the rows go in, and the
    # grant rows carry the reference the caseload sorts on.
    assert region.rows["search_entry"] > 2 * CASES
    assert not CaseGrant.objects.filter(reference="").exists()

    grant = CaseGrant.objects.filter(whole_organisation=True).order_by("pk").first()
    others = list(Case.objects.exclude(pk=grant.case_id).values_list("pk", flat=True)[:20])
    grant.whole_organisation = False
    grant.save(update_fields=["whole_organisation"])
    with pytest.raises(GrantIndexMismatch, match=f'"case": {grant.case_id}'):
        check_grant_index(case_ids=[*others, grant.case_id])
    grant.whole_organisation = True
    grant.save(update_fields=["whole_organisation"])
    assert check_grant_index(case_ids=[*others, grant.case_id])["differing"] == 0
    grant.delete()
    with pytest.raises(GrantIndexMismatch):
        check_grant_index(case_ids=[*others, grant.case_id])


def test_every_in_process_scenario_reports_a_number_and_a_query_count():
    generate(RegionSpec(cases=CASES, seed=3), write_marker=False, check_sample=10)

    report = run_all(repeat=1)

    pages = report["pages"]
    assert set(pages) == set(bench_pages(report["case_id"]))
    # Issue 9's scenarios: the sorted and filtered caseload, and search.
    assert set(search_pages("any")) < set(pages)
    assert len(search_pages("any")) == 9
    for name, page in pages.items():
        assert page["status"] == 200, name
        assert page["queries"] > 0 and page["bytes"] > 0, name
        assert page["slowest_queries"][0]["sql"], name
    for role in ("case_manager", "coordinator"):
        result = report["caseload_full_vs_raw"][role]
        assert result["full_ms"] > 0 and result["raw_ms"] > 0 and result["ratio"] > 0, role
        assert result["queries"] > 0 and result["raw_rows"] == 25, role
    opened = report["open_case"]
    assert opened["requests"] == len(opened["parts"]) >= 1
    assert opened["queries"] == sum(p["queries"] for p in opened["parts"])
    assert opened["html_bytes"] > opened["gzip_bytes"] > 0
    assert all(p["status"] == 200 for p in opened["parts"])

    # The notes of the writing scenario are removed before the next run.
    note = CaseNote.objects.order_by("pk").first()
    CaseNote.objects.filter(pk=note.pk).update(text=f"{BENCH_NOTE} 1: written by the benchmark")
    count = CaseNote.objects.count()
    assert remove_bench_notes() == 1
    assert CaseNote.objects.count() == count - 1
    assert not CaseNote.objects.filter(pk=note.pk).exists()
