from django.db import migrations, models

from prepare.search import sql


# Assessments are searchable like any record: the triggers are installed again
# with their source (which refills the index); backwards, without it.
def install(apps, schema_editor):
    sql.install(schema_editor, apps)


def uninstall(apps, schema_editor):
    sql.uninstall(schema_editor, apps)


class Migration(migrations.Migration):

    dependencies = [
        ('assessments', '0002_assessment'),
        ('search', '0002_records_handed_over_by'),
    ]

    operations = [
        migrations.RunPython(uninstall, install),
        migrations.AlterField(
            model_name='searchentry',
            name='kind',
            field=models.CharField(choices=[('reference', 'Reference'), ('person', 'Person'), ('note', 'Note'), ('referral', 'Referral'), ('triage', 'Triage decision'), ('transition', 'Status change'), ('key_date', 'Key date'), ('contact', 'Contact'), ('condition', 'Licence condition'), ('breach', 'Breach'), ('signal', 'Signal of concern'), ('checklist', 'Checklist item'), ('transfer', 'Transfer'), ('document', 'Document'), ('assessment', 'Assessment')], max_length=16),
        ),
        migrations.RunPython(install, uninstall),
    ]
