"""Every case record is held by a partnership (decision 0012); transfers name the
categories they hand over.

Existing records are held by their case's current partnership: before this
change every record moved with its case, so that is who reads them today.
Existing accepted transfers handed over every category (they moved every
record); an open proposal gets the default a coordinator would be offered now
(the categories both agreements grant to someone, never intelligence).
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery
from django.utils import timezone

RECORDS = ["casenote", "casetransition", "keydate", "referral", "triagedecision"]
CATEGORIES = [
    "identity",
    "justice",
    "risk",
    "ideology",
    "health",
    "social",
    "interventions",
    "meetings",
    "intelligence",
]


def fill_holders(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    holder = Subquery(Case.objects.filter(pk=OuterRef("case_id")).values("partnership_id")[:1])
    for name in RECORDS:
        apps.get_model("cases", name).objects.update(partnership_id=holder)


def _shared(apps, partnership_id, today):
    Agreement = apps.get_model("partnerships", "SharingAgreement")
    Grant = apps.get_model("partnerships", "CategoryGrant")
    agreements = Agreement.objects.filter(partnership_id=partnership_id, valid_from__lte=today)
    agreements = agreements.filter(
        models.Q(valid_until__isnull=True) | models.Q(valid_until__gte=today)
    )
    return set(
        Grant.objects.filter(agreement__in=agreements.values("pk")).values_list(
            "category", flat=True
        )
    )


def fill_categories(apps, schema_editor):
    Transfer = apps.get_model("cases", "Transfer")
    today = timezone.localdate()
    for transfer in Transfer.objects.all().only("pk", "status", "from_partnership_id", "to_partnership_id"):
        if transfer.status == "accepted":
            chosen = list(CATEGORIES)
        elif transfer.status == "proposed":
            both = _shared(apps, transfer.from_partnership_id, today) & _shared(
                apps, transfer.to_partnership_id, today
            )
            chosen = [c for c in CATEGORIES if c in both and c != "intelligence"]
        else:
            chosen = []
        Transfer.objects.filter(pk=transfer.pk).update(categories=chosen)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0005_case_record_category_checks"),
        ("partnerships", "0002_membership_escalation_and_more"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="keydate", name="key_date_once_per_kind"),
        *(
            migrations.AddField(
                model_name=name,
                name="partnership",
                field=models.ForeignKey(
                    editable=False,
                    null=True,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="+",
                    to="partnerships.partnership",
                    verbose_name="held by",
                ),
            )
            for name in RECORDS
        ),
        migrations.AddField(
            model_name="transfer",
            name="categories",
            field=models.JSONField(blank=True, default=list, verbose_name="categories handed over"),
        ),
        migrations.RunPython(fill_holders, migrations.RunPython.noop),
        migrations.RunPython(fill_categories, migrations.RunPython.noop),
    ]
