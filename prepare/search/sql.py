"""The triggers that keep the search index (``SearchEntry``) in step with the
tables it copies, and the full-text index beside it, for SQLite and PostgreSQL.

Every write to a source table, whatever wrote it (a service, a bulk loader,
erasure, a migration), passes through these triggers; see
docs/decisions/0017-search-index.md. ``install`` creates them (and fills the
index from the rows already there), ``uninstall`` removes them. A new
free-text field or record model is one line in ``RECORD_SOURCES`` and a
migration that runs ``install`` again.
"""

# DDL built from the models' own table and column names, never from input.
# ruff: noqa: S608
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prepare.search.text import fold_table

ENTRY_TABLE = "search_searchentry"
CASE_TABLE = "cases_case"
# SQLite: one contentless FTS5 table per group of rows (who the case is, the
# records' text), so that each search reads only its own group's postings.
FTS_WHO = "search_fts_who"
FTS_TEXT = "search_fts_text"
TOKENIZER = "unicode61 remove_diacritics 2"
# PostgreSQL: the generated column, its GIN indexes (one per group) and the
# folding function (no extension needed: ``translate`` with a fixed table).
DOCUMENT = "document"
FOLD_FUNCTION = "search_fold"
TS_CONFIG = "simple"


@dataclass(frozen=True)
class RecordSource:
    """A case-bound model whose free text is searchable: the kind of its rows,
    the field holding its category, its text fields (joined by spaces), and
    the field saying when it last changed (``updated_at``, or its creation
    time if it never changes): a transfer's old team reads the entry only if
    it did not change after the acceptance (``access.policy._grace_q``)."""

    app_label: str
    model: str
    kind: str
    category_field: str
    text_fields: tuple[str, ...]
    changed_field: str = "updated_at"


RECORD_SOURCES: tuple[RecordSource, ...] = (
    RecordSource("cases", "CaseNote", "note", "category", ("text",)),
    RecordSource("cases", "Referral", "referral", "category", ("reason",), "created_at"),
    RecordSource("cases", "TriageDecision", "triage", "category", ("reasons",), "decided_at"),
    RecordSource("cases", "CaseTransition", "transition", "category", ("reason",), "at"),
    RecordSource("cases", "KeyDate", "key_date", "category", ("source",)),
    RecordSource(
        "cases", "Transfer", "transfer", "summary_category", ("handover_summary",), "proposed_at"
    ),
    RecordSource("monitoring", "Contact", "contact", "category", ("with_whom", "summary")),
    RecordSource("monitoring", "LicenceCondition", "condition", "category", ("text",)),
    RecordSource("monitoring", "Breach", "breach", "category", ("description", "action_taken")),
    RecordSource(
        "monitoring", "Signal", "signal", "category", ("description", "acknowledgement_note")
    ),
    RecordSource("plans", "ChecklistItem", "checklist", "category", ("title", "completion_note")),
    RecordSource("documents", "Document", "document", "category", ("title", "description")),
    RecordSource("assessments", "Assessment", "assessment", "category", ("searchable_text",)),
)


def _sources(apps: Any) -> list[RecordSource]:
    """The sources whose model exists in ``apps``: a migration that installs the
    triggers before a later record model's table exists leaves it out, and the
    migration that adds it installs them again."""
    present = []
    for source in RECORD_SOURCES:
        try:
            apps.get_model(source.app_label, source.model)
        except LookupError:
            continue
        present.append(source)
    return present


COLUMNS = "case_id, partnership_id, kind, object_id, category, who, text, birth_date"
# Added later (decision 0012): the 0001 migration runs these functions with the
# entry table as it was then, without them; ``_stamped`` says which it is.
STAMP_COLUMNS = "handed_over_by_id, updated_at"


@dataclass(frozen=True)
class _Table:
    name: str
    columns: dict[str, str]  # field name -> column

    def col(self, field: str) -> str:
        return self.columns[field]


def _table(apps: Any, app_label: str, model: str) -> _Table:
    meta = apps.get_model(app_label, model)._meta
    return _Table(meta.db_table, {f.name: f.column for f in meta.concrete_fields})


def _joined(row: str, table: _Table, fields: tuple[str, ...]) -> str:
    parts = " || ' ' || ".join(f"COALESCE({row}.{table.col(f)}, '')" for f in fields)
    return f"trim({parts})"


def _bool(vendor: str, value: bool) -> str:
    if vendor == "postgresql":
        return "true" if value else "false"
    return "1" if value else "0"


# --- What a row of each source becomes ------------------------------------------------


def _stamped(apps: Any) -> bool:
    """Whether the entry table (as ``apps`` has it) carries the handover stamp."""
    fields = apps.get_model("search", "SearchEntry")._meta.concrete_fields
    return any(f.name == "handed_over_by" for f in fields)


def _columns(stamped: bool) -> str:
    return f"{COLUMNS}, {STAMP_COLUMNS}" if stamped else COLUMNS


def _record_values(
    vendor: str, source: RecordSource, t: _Table, row: str, stamped: bool
) -> tuple[str, str]:
    """The SELECT list of the entry of one record row, and its text."""
    text = _joined(row, t, source.text_fields)
    values = (
        f"{row}.{t.col('case')}, {_holder(t, row)}, '{source.kind}', "
        f"{row}.id, {row}.{t.col(source.category_field)}, {_bool(vendor, False)}, {text}, NULL"
    )
    if stamped:
        values += f", {_handed_over_by(t, row)}, {row}.{t.col(source.changed_field)}"
    return values, text


def _handed_over_by(t: _Table, row: str) -> str:
    """The transfer a source row was handed over by: a case record's own stamp;
    a transfer's summary counts as handed over by that transfer (its old team
    wrote it)."""
    if "handed_over_by" in t.columns:
        return f"{row}.{t.col('handed_over_by')}"
    return f"{row}.id"


def _holder(t: _Table, row: str) -> str:
    """The partnership that holds a source row: its own holder column (case
    records, decision 0012), else its case's partnership (a transfer's summary)."""
    if "partnership" in t.columns:
        return f"{row}.{t.col('partnership')}"
    return f"(SELECT partnership_id FROM {CASE_TABLE} WHERE id = {row}.{t.col('case')})"


def _watched(source: RecordSource, t: _Table, stamped: bool) -> str:
    """The columns whose change rewrites a source row's entry: its case, holder,
    category and text (and, with the stamp, the handover and the change time)."""
    fields = ["case", source.category_field, *source.text_fields]
    if "partnership" in t.columns:
        fields.insert(1, "partnership")
    if stamped:
        fields += [f for f in ("handed_over_by", source.changed_field) if f in t.columns]
    return ", ".join(dict.fromkeys(t.col(f) for f in fields))


def _case_entries_select(vendor: str, apps: Any, case_row: str, where: str) -> Iterator[str]:
    """SELECTs of the reference and person entries of the cases ``where`` picks."""
    case = _table(apps, "cases", "Case")
    person = _table(apps, "cases", "Person")
    true = _bool(vendor, True)
    stamp = ", NULL, NULL" if _stamped(apps) else ""
    person_text = _joined("p", person, ("given_name", "family_name", "identifier"))
    live = f"{case_row}.{case.col('anonymised_at')} IS NULL"
    yield (
        f"SELECT {case_row}.id, {case_row}.{case.col('partnership')}, 'reference', {case_row}.id, "
        f"'', {true}, "
        f"{case_row}.{case.col('reference')}, NULL{stamp} FROM {case.name} {case_row} "
        f"WHERE {where} AND {live}"
    )
    yield (
        f"SELECT {case_row}.id, {case_row}.{case.col('partnership')}, 'person', {case_row}.id, "
        f"'identity', {true}, {person_text}, "
        f"p.{person.col('birth_date')}{stamp} FROM {case.name} {case_row} "
        f"JOIN {person.name} p ON p.id = {case_row}.{case.col('person')} "
        f"WHERE {where} AND {live} AND ({person_text} <> '' OR p.{person.col('birth_date')} "
        f"IS NOT NULL)"
    )


# --- SQLite -----------------------------------------------------------------------------


def _sqlite(apps: Any) -> list[str]:
    out = [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_WHO} USING fts5(text, content='', "
        f"tokenize='{TOKENIZER}')",
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TEXT} USING fts5(text, content='', "
        f"tokenize='{TOKENIZER}')",
        f"""CREATE TRIGGER search_entry_ai AFTER INSERT ON {ENTRY_TABLE} BEGIN
  INSERT INTO {FTS_WHO}(rowid, text) SELECT NEW.id, NEW.text WHERE NEW.who;
  INSERT INTO {FTS_TEXT}(rowid, text) SELECT NEW.id, NEW.text WHERE NOT NEW.who;
END""",
        f"""CREATE TRIGGER search_entry_ad AFTER DELETE ON {ENTRY_TABLE} BEGIN
  INSERT INTO {FTS_WHO}({FTS_WHO}, rowid, text) SELECT 'delete', OLD.id, OLD.text WHERE OLD.who;
  INSERT INTO {FTS_TEXT}({FTS_TEXT}, rowid, text)
    SELECT 'delete', OLD.id, OLD.text WHERE NOT OLD.who;
END""",
        f"""CREATE TRIGGER search_entry_au AFTER UPDATE ON {ENTRY_TABLE} BEGIN
  INSERT INTO {FTS_WHO}({FTS_WHO}, rowid, text) SELECT 'delete', OLD.id, OLD.text WHERE OLD.who;
  INSERT INTO {FTS_TEXT}({FTS_TEXT}, rowid, text)
    SELECT 'delete', OLD.id, OLD.text WHERE NOT OLD.who;
  INSERT INTO {FTS_WHO}(rowid, text) SELECT NEW.id, NEW.text WHERE NEW.who;
  INSERT INTO {FTS_TEXT}(rowid, text) SELECT NEW.id, NEW.text WHERE NOT NEW.who;
END""",
    ]
    stamped = _stamped(apps)
    for source in _sources(apps):
        t = _table(apps, source.app_label, source.model)
        new_values, new_text = _record_values("sqlite", source, t, "NEW", stamped)
        cols = _watched(source, t, stamped)
        name = f"search_{source.kind}"
        forget = f"DELETE FROM {ENTRY_TABLE} WHERE kind = '{source.kind}' AND object_id = OLD.id;"
        add = (
            f"INSERT INTO {ENTRY_TABLE} ({_columns(stamped)}) SELECT {new_values} "
            f"WHERE {new_text} <> '';"
        )
        out += [
            f"CREATE TRIGGER {name}_ai AFTER INSERT ON {t.name} BEGIN {add} END",
            f"CREATE TRIGGER {name}_au AFTER UPDATE OF {cols} ON {t.name} BEGIN {forget} {add} END",
            f"CREATE TRIGGER {name}_ad AFTER DELETE ON {t.name} BEGIN {forget} END",
        ]
    out += _sqlite_case_triggers(apps)
    return out


def _follow_case(row: str) -> str:
    """A transfer's summary is held by its case's partnership: it follows the case."""
    return (
        f"UPDATE {ENTRY_TABLE} SET partnership_id = {row}.partnership_id "
        f"WHERE case_id = {row}.id AND kind = 'transfer';"
    )


def _who_forget(case_id: str) -> str:
    return f"DELETE FROM {ENTRY_TABLE} WHERE case_id = {case_id} AND who;"


def _sqlite_case_triggers(apps: Any) -> list[str]:
    case = _table(apps, "cases", "Case")
    person = _table(apps, "cases", "Person")
    columns = _columns(_stamped(apps))
    new_case = " ".join(
        f"INSERT INTO {ENTRY_TABLE} ({columns}) {s};"
        for s in _case_entries_select("sqlite", apps, "c", "c.id = NEW.id")
    )
    of_person = " ".join(
        f"INSERT INTO {ENTRY_TABLE} ({columns}) {s};"
        for s in _case_entries_select("sqlite", apps, "c", f"c.{case.col('person')} = NEW.id")
        if "'person'" in s
    )
    case_cols = ", ".join(
        case.col(f) for f in ("reference", "person", "anonymised_at", "partnership")
    )
    person_cols = ", ".join(
        person.col(f) for f in ("given_name", "family_name", "identifier", "birth_date")
    )
    forget_persons = (
        f"DELETE FROM {ENTRY_TABLE} WHERE kind = 'person' AND case_id IN "
        f"(SELECT id FROM {case.name} WHERE {case.col('person')} = NEW.id);"
    )
    return [
        f"CREATE TRIGGER search_case_ai AFTER INSERT ON {case.name} BEGIN {new_case} END",
        f"CREATE TRIGGER search_case_au AFTER UPDATE OF {case_cols} ON {case.name} BEGIN "
        f"{_who_forget('OLD.id')} {new_case} {_follow_case('NEW')} END",
        f"CREATE TRIGGER search_case_ad AFTER DELETE ON {case.name} BEGIN "
        f"DELETE FROM {ENTRY_TABLE} WHERE case_id = OLD.id; END",
        f"CREATE TRIGGER search_person_au AFTER UPDATE OF {person_cols} ON {person.name} BEGIN "
        f"{forget_persons} {of_person} END",
    ]


def _sqlite_drop(apps: Any) -> list[str]:
    names = ["search_entry_ai", "search_entry_ad", "search_entry_au"]
    for source in _sources(apps):
        names += [f"search_{source.kind}_{op}" for op in ("ai", "au", "ad")]
    names += ["search_case_ai", "search_case_au", "search_case_ad", "search_person_au"]
    return [f"DROP TRIGGER IF EXISTS {n}" for n in names] + [
        f"DROP TABLE IF EXISTS {FTS_WHO}",
        f"DROP TABLE IF EXISTS {FTS_TEXT}",
    ]


# --- PostgreSQL --------------------------------------------------------------------------


def _pg_function(name: str, body: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
        f"BEGIN\n{body}\n  RETURN NULL;\nEND\n$body$"
    )


def _postgresql(apps: Any) -> list[str]:
    src, dst = fold_table()
    out = [
        # IMMUTABLE: translate, lower and regexp_replace are, for a fixed table.
        f"CREATE OR REPLACE FUNCTION {FOLD_FUNCTION}(value text) RETURNS text "
        f"LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fold$ "
        f"SELECT regexp_replace(translate(lower(value), '{src}', '{dst}'), "
        f"'[^[:alnum:]]+', ' ', 'g') $fold$",
        f"ALTER TABLE {ENTRY_TABLE} ADD COLUMN {DOCUMENT} tsvector GENERATED ALWAYS AS "
        f"(to_tsvector('{TS_CONFIG}'::regconfig, {FOLD_FUNCTION}(text))) STORED",
        f"CREATE INDEX search_entry_who_fts ON {ENTRY_TABLE} USING gin ({DOCUMENT}) WHERE who",
        f"CREATE INDEX search_entry_text_fts ON {ENTRY_TABLE} USING gin ({DOCUMENT}) WHERE NOT who",
    ]
    stamped = _stamped(apps)
    columns = _columns(stamped)
    for source in _sources(apps):
        t = _table(apps, source.app_label, source.model)
        new_values, new_text = _record_values("postgresql", source, t, "NEW", stamped)
        cols = _watched(source, t, stamped)
        name = f"search_sync_{source.kind}"
        body = (
            f"  IF TG_OP <> 'INSERT' THEN\n"
            f"    DELETE FROM {ENTRY_TABLE} WHERE kind = '{source.kind}' AND object_id = OLD.id;\n"
            f"  END IF;\n"
            f"  IF TG_OP <> 'DELETE' AND {new_text} <> '' THEN\n"
            f"    INSERT INTO {ENTRY_TABLE} ({columns}) SELECT {new_values};\n"
            f"  END IF;"
        )
        out += [
            _pg_function(name, body),
            f"CREATE TRIGGER {name} AFTER INSERT OR DELETE OR UPDATE OF {cols} ON {t.name} "
            f"FOR EACH ROW EXECUTE FUNCTION {name}()",
        ]
    case = _table(apps, "cases", "Case")
    person = _table(apps, "cases", "Person")
    new_case = "\n".join(
        f"    INSERT INTO {ENTRY_TABLE} ({columns}) {s};"
        for s in _case_entries_select("postgresql", apps, "c", "c.id = NEW.id")
    )
    of_person = "\n".join(
        f"  INSERT INTO {ENTRY_TABLE} ({columns}) {s};"
        for s in _case_entries_select("postgresql", apps, "c", f"c.{case.col('person')} = NEW.id")
        if "'person'" in s
    )
    case_body = (
        f"  IF TG_OP <> 'INSERT' THEN\n    {_who_forget('OLD.id')}\n  END IF;\n"
        f"  IF TG_OP <> 'DELETE' THEN\n{new_case}\n    {_follow_case('NEW')}\n  END IF;"
    )
    person_body = (
        f"  DELETE FROM {ENTRY_TABLE} WHERE kind = 'person' AND case_id IN "
        f"(SELECT id FROM {case.name} WHERE {case.col('person')} = NEW.id);\n{of_person}"
    )
    case_cols = ", ".join(
        case.col(f) for f in ("reference", "person", "anonymised_at", "partnership")
    )
    person_cols = ", ".join(
        person.col(f) for f in ("given_name", "family_name", "identifier", "birth_date")
    )
    out += [
        _pg_function("search_sync_case", case_body),
        f"CREATE TRIGGER search_sync_case AFTER INSERT OR DELETE OR UPDATE OF {case_cols} "
        f"ON {case.name} FOR EACH ROW EXECUTE FUNCTION search_sync_case()",
        _pg_function("search_sync_person", person_body),
        f"CREATE TRIGGER search_sync_person AFTER UPDATE OF {person_cols} ON {person.name} "
        f"FOR EACH ROW EXECUTE FUNCTION search_sync_person()",
    ]
    return out


def _postgresql_drop(apps: Any) -> list[str]:
    out = []
    tables = {s.kind: _table(apps, s.app_label, s.model).name for s in _sources(apps)}
    tables["case"] = _table(apps, "cases", "Case").name
    tables["person"] = _table(apps, "cases", "Person").name
    for kind, table in tables.items():
        out.append(f"DROP TRIGGER IF EXISTS search_sync_{kind} ON {table}")
        out.append(f"DROP FUNCTION IF EXISTS search_sync_{kind}()")
    out += [
        "DROP INDEX IF EXISTS search_entry_who_fts",
        "DROP INDEX IF EXISTS search_entry_text_fts",
        f"ALTER TABLE {ENTRY_TABLE} DROP COLUMN IF EXISTS {DOCUMENT}",
        f"DROP FUNCTION IF EXISTS {FOLD_FUNCTION}(text)",
    ]
    return out


# --- Installing --------------------------------------------------------------------------


def _backfill(vendor: str, apps: Any) -> list[str]:
    """The entries of the rows already there (the triggers fill the FTS tables)."""
    out = [f"DELETE FROM {ENTRY_TABLE}"]
    stamped = _stamped(apps)
    columns = _columns(stamped)
    for source in _sources(apps):
        t = _table(apps, source.app_label, source.model)
        values, text = _record_values(vendor, source, t, "r", stamped)
        out.append(
            f"INSERT INTO {ENTRY_TABLE} ({columns}) SELECT {values} FROM {t.name} r "
            f"WHERE {text} <> ''"
        )
    for select in _case_entries_select(vendor, apps, "c", "1 = 1"):
        out.append(f"INSERT INTO {ENTRY_TABLE} ({columns}) {select}")
    return out


def install(schema_editor: Any, apps: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        statements = _sqlite(apps)
    elif vendor == "postgresql":
        statements = _postgresql(apps)
    else:
        raise NotImplementedError(f"search index on {vendor}")
    for statement in [*statements, *_backfill(vendor, apps)]:
        schema_editor.execute(statement, params=None)


def uninstall(schema_editor: Any, apps: Any) -> None:
    vendor = schema_editor.connection.vendor
    drop = _sqlite_drop(apps) if vendor == "sqlite" else _postgresql_drop(apps)
    for statement in drop:
        schema_editor.execute(statement, params=None)
