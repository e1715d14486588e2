"""How the caseload's cost grows with the number of cases (see README.md)."""

from __future__ import annotations

import datetime
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("PREPARE_VAR_DIR", tempfile.mkdtemp(prefix="prepare-bench-"))
os.environ.setdefault("PREPARE_HTTPS", "0")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prepare.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from prepare.access.categories import Action, Category  # noqa: E402
from prepare.access.models import CaseGrant  # noqa: E402
from prepare.access.policy import forget_grants  # noqa: E402
from prepare.accounts.models import Organisation, OrganisationType, Role, User  # noqa: E402
from prepare.cases.models import Case, CaseStatus, Person  # noqa: E402
from prepare.cases.selectors import caseload  # noqa: E402
from prepare.partnerships.models import (  # noqa: E402
    CategoryGrant,
    LegalBasis,
    Membership,
    Partnership,
    SharingAgreement,
)

SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "1000,10000,100000").split(",")]
REPEAT = int(os.environ.get("BENCH_REPEAT", "30"))
BATCH = 5000


def setup_world() -> tuple[User, Partnership, Organisation, Organisation]:
    city = Organisation.objects.create(name="Bench city", type=OrganisationType.LOCAL_AUTHORITY)
    probation = Organisation.objects.create(name="Bench probation", type=OrganisationType.PROBATION)
    partnership = Partnership.objects.create(
        name="Bench", code="BEN", coordinating_organisation=city
    )
    start = datetime.date(2020, 1, 1)
    Membership.objects.create(partnership=partnership, organisation=probation, starts_on=start)
    agreement = SharingAgreement.objects.create(
        partnership=partnership,
        title="Bench",
        legal_basis=LegalBasis.COVENANT,
        legal_reference="-",
        valid_from=start,
    )
    CategoryGrant.objects.create(
        agreement=agreement,
        organisation=probation,
        category=Category.JUSTICE,
        access=Action.WRITE,
    )
    officer = User.objects.create(
        username="officer", organisation=probation, role=Role.CASE_MANAGER
    )
    return officer, partnership, city, probation


def grow_to(
    total: int, have: int, partnership: Partnership, city: Organisation, probation: Organisation
) -> None:
    """Add cases up to ``total``; probation is on every tenth, as the services would."""
    base = timezone.now() - datetime.timedelta(days=3650)
    for offset in range(have, total, BATCH):
        n = min(BATCH, total - offset)
        with transaction.atomic():
            persons = Person.objects.bulk_create(
                [
                    Person(
                        given_name="P", family_name=str(offset + i), data_subject_category="other"
                    )
                    for i in range(n)
                ]
            )
            cases = Case.objects.bulk_create(
                [
                    Case(
                        person=p,
                        partnership=partnership,
                        reference=f"BEN-{offset + i:07d}",
                        status=CaseStatus.COMMUNITY,
                        updated_at=base + datetime.timedelta(minutes=offset + i),
                    )
                    for i, p in enumerate(persons)
                ]
            )
            grants = []
            for i, case in enumerate(cases):
                grants.append(
                    CaseGrant(
                        case=case,
                        organisation=city,
                        partnership=partnership,
                        status=case.status,
                        sort_key=case.updated_at,
                        coordination=True,
                    )
                )
                if (offset + i) % 10 == 0:
                    grants.append(
                        CaseGrant(
                            case=case,
                            organisation=probation,
                            partnership=partnership,
                            status=case.status,
                            sort_key=case.updated_at,
                            whole_organisation=True,
                        )
                    )
            CaseGrant.objects.bulk_create(grants)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


class _Rollback(Exception):
    pass


def one_page(officer: User) -> None:
    """The real selector (page, capped count, cases, audit event), rolled back."""
    forget_grants(officer)
    try:
        with transaction.atomic():
            caseload(actor=officer)
            raise _Rollback
    except _Rollback:
        pass


def measure(officer: User) -> float:
    one_page(officer)  # warm caches
    samples = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        one_page(officer)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    call_command("migrate", verbosity=0)
    with transaction.atomic():
        for model in (CaseGrant, Case, Person, CategoryGrant, SharingAgreement, Membership):
            model.objects.all().delete()
        Partnership.objects.all().delete()
        User.objects.filter(username="officer").delete()
        Organisation.objects.filter(name__startswith="Bench").delete()
    officer, partnership, city, probation = setup_world()
    results: list[tuple[int, float]] = []
    have = 0
    for size in SIZES:
        grow_to(size, have, partnership, city, probation)
        have = size
        results.append((size, measure(officer)))
    print(f"caseload page, {connection.vendor}, median of {REPEAT}")
    first = results[0][1]
    for size, seconds in results:
        print(f"  {size:>9,} cases  {seconds * 1000:8.2f} ms   x{seconds / first:5.2f}")


if __name__ == "__main__":
    main()
