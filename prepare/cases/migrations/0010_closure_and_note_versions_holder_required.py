"""The holder is required once every row has one (a migration of its own, as in
0007: PostgreSQL does not alter a table with the fill's pending checks)."""

import django.db.models.deletion
from django.db import migrations, models

RECORDS = ["closureproposal", "casenoteversion"]


class Migration(migrations.Migration):
    dependencies = [("cases", "0009_closure_and_note_versions_held_by_a_partnership")]

    operations = [
        migrations.AlterField(
            model_name=name,
            name="partnership",
            field=models.ForeignKey(
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="partnerships.partnership",
                verbose_name="held by",
            ),
        )
        for name in RECORDS
    ]
