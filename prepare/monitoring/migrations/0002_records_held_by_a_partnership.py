"""Every case record is held by a partnership (decision 0012): existing records
by their case's current partnership, who reads them today."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

RECORDS = ["breach", "contact", "licencecondition", "signal"]


def fill_holders(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    holder = Subquery(Case.objects.filter(pk=OuterRef("case_id")).values("partnership_id")[:1])
    for name in RECORDS:
        apps.get_model("monitoring", name).objects.update(partnership_id=holder)


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0001_initial"),
        ("cases", "0006_records_held_by_a_partnership"),
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
