"""The holder of a record is required once every record has one."""

import django.db.models.deletion
from django.db import migrations, models

RECORDS = ["checklistitem"]


class Migration(migrations.Migration):
    dependencies = [("plans", "0004_records_held_by_a_partnership")]

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
