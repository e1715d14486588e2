"""The holder of a record is required once every record has one (a migration of
its own: PostgreSQL does not alter a table with the fill's pending checks)."""

import django.db.models.deletion
from django.db import migrations, models

RECORDS = ["casenote", "casetransition", "keydate", "referral", "triagedecision"]


class Migration(migrations.Migration):
    dependencies = [("cases", "0006_records_held_by_a_partnership")]

    operations = [
        *(
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
        ),
        migrations.AddConstraint(
            model_name="keydate",
            constraint=models.UniqueConstraint(
                fields=("case", "partnership", "kind"), name="key_date_once_per_kind"
            ),
        ),
    ]
