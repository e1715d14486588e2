"""Events are linked to the chain when the request's transaction ends.

``seq`` is empty from the moment a request stores an event until, just
before its commit, the event receives its seal (``prepare.audit.chain``). The
append-only triggers now let exactly that happen: an event without a seal may
receive one, once, with every other field unchanged; a sealed event can never
change, and no event can be deleted.
"""

from django.db import migrations, models

# Every column but the three the seal sets.
FIXED_COLUMNS = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_username",
    "organisation_id",
    "role",
    "action",
    "outcome",
    "case_id",
    "case_ids",
    "object_type",
    "object_id",
    "category",
    "purpose",
    "detail",
    "request_id",
    "source_ip",
)

_PG_SAME = " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in FIXED_COLUMNS)
PG_FORWARD = f"""
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL AND {_PG_SAME} THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_event is append-only';
END;
$$ LANGUAGE plpgsql;
"""
PG_BACKWARD = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only';
END;
$$ LANGUAGE plpgsql;
"""

_SQLITE_CHANGED = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FIXED_COLUMNS)
# SQLite rebuilds the table to alter the column, which drops its triggers:
# they are created again here.
SQLITE_FORWARD = [
    "DROP TRIGGER IF EXISTS audit_event_no_update;",
    "DROP TRIGGER IF EXISTS audit_event_no_delete;",
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    f"WHEN OLD.seq IS NOT NULL OR NEW.seq IS NULL OR {_SQLITE_CHANGED} "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END;",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END;",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS audit_event_no_update;",
    "DROP TRIGGER IF EXISTS audit_event_no_delete;",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only")]

    operations = [
        migrations.AlterField(
            model_name="event",
            name="seq",
            field=models.PositiveBigIntegerField(editable=False, null=True, unique=True),
        ),
        migrations.RunPython(forward, backward),
    ]
