"""Closure proposals and earlier note versions are case records like any other:
held by a partnership (decision 0012). Existing rows are held by their case's
current partnership, as every record was before holders existed."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

RECORDS = ["closureproposal", "casenoteversion"]


def fill_holders(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    holder = Subquery(Case.objects.filter(pk=OuterRef("case_id")).values("partnership_id")[:1])
    for name in RECORDS:
        apps.get_model("cases", name).objects.update(partnership_id=holder)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0008_closure_proposal_note_versions_replies"),
        ("partnerships", "0004_closure_self_approval"),
    ]

    operations = [
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
        migrations.RunPython(fill_holders, migrations.RunPython.noop),
    ]
