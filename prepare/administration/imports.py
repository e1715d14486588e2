"""Bulk import of organisations and accounts (the first set-up of a region).

Three steps, each its own function:

1. ``import_read`` reads the uploaded files (CSV or XLSX, see
   docs/administration/import.md) into rows of text; a file that cannot be read
   at all is refused whole (``ImportFileRefused``, a 400).
2. ``import_plan`` checks every row, against the file and the database: what
   will be created, what is there already exactly as written (skipped: an
   import run twice adds nothing), and each row's error with its sheet, row and
   column. Two queries; nothing is written (but the preview's audit event).
   The preview shows it.
3. ``import_propose`` turns a plan without errors into an ``AccessChangeRequest``
   of kind ``import`` (four eyes: it widens access), with the proposer's fresh
   code. Its payload holds the rows to create; its ``base`` is
   ``import_fingerprint``, the digest of the rows of the database that the
   import names. A second approver's approval applies it (``import_apply``) in
   one transaction: all rows or none, and the enrolment e-mails after commit.

The preview is handed from step 2 to step 3 as a signed token
(``preview_token``), so that what is proposed is exactly what was previewed;
it is planned again when proposed and when applied.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from prepare.access.abilities import assignable_roles
from prepare.access.policy import require_administrator
from prepare.accounts.invitations import invitation_make
from prepare.accounts.models import Organisation, OrganisationType, Role, User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record

KIND = "import"
ORGANISATIONS = "organisations"
ACCOUNTS = "accounts"
ORGANISATION_COLUMNS = ("name", "type", "country", "city", "languages")
ACCOUNT_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "organisation",
    "role",
    "language",
    "manages_accounts",
)
REQUIRED = {ORGANISATIONS: ("name", "type"), ACCOUNTS: ("email", "organisation", "role")}
COLUMNS = {ORGANISATIONS: ORGANISATION_COLUMNS, ACCOUNTS: ACCOUNT_COLUMNS}
# Longest text read from a cell, and most columns read from a row.
CELL_MAX = 254
COLUMNS_MAX = 30
MAX_FILES = 2
# How long a preview may be proposed (seconds).
PREVIEW_MAX_AGE = 24 * 3600
_SALT = "prepare.administration.import"
_YES = {"yes", "y", "true", "1", "x", "oui", "ja", "sí", "si", "sì"}
_NO = {"", "no", "n", "false", "0", "non", "nee", "nein", "nej"}


class ImportFileRefused(ValidationError):
    """A file that cannot be read at all: too large, not CSV or XLSX, broken."""


# --- Reading the files ---------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    sheet: str  # "organisations" or "accounts"
    source: str  # the file's name (and the XLSX sheet's)
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (row number, cells), the header being row 1


def _refuse(message: str) -> ImportFileRefused:
    return ImportFileRefused({"file": [message]}, code="file")


def _column_name(text: str) -> str:
    return "_".join(text.strip().lower().replace("-", " ").split())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _sheet_of_header(header: list[str]) -> str | None:
    if "email" in header:
        return ACCOUNTS
    if "type" in header:
        return ORGANISATIONS
    return None


def _read_csv(name: str, data: bytes, budget: list[int]) -> list[Table]:
    if b"\x00" in data:
        raise _refuse(
            _("%(file)s is not a CSV or XLSX file. Save the spreadsheet as CSV (UTF-8) or XLSX.")
            % {"file": name}
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _refuse(
            _(
                "%(file)s is not in UTF-8. Save it again as “CSV UTF-8” (or as XLSX) and "
                "upload it again."
            )
            % {"file": name}
        ) from exc
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        raw = list(_limited(csv.reader(io.StringIO(text), delimiter=delimiter), budget, name))
    except csv.Error as exc:
        raise _refuse(
            _("%(file)s is not a readable CSV file: %(error)s") % {"file": name, "error": exc}
        ) from exc
    return [_table(name, raw, None)]


def _limited(rows: Iterable[Any], budget: list[int], name: str) -> Iterator[list[str]]:
    for row in rows:
        cells = [_cell(v) for v in list(row)[:COLUMNS_MAX]]
        yield cells
        if any(cells):
            budget[0] -= 1
            if budget[0] < 0:
                raise _refuse(
                    _(
                        "%(file)s has more rows than an import may hold (%(max)d). "
                        "Split it into several imports."
                    )
                    % {"file": name, "max": settings.IMPORT_MAX_ROWS}
                )


def _table(name: str, raw: list[list[str]], sheet: str | None) -> Table:
    numbered = [(n, cells) for n, cells in enumerate(raw, start=1) if any(cells)]
    if not numbered or numbered[0][0] != 1:
        raise _refuse(
            _("%(file)s does not start with a header row naming its columns.") % {"file": name}
        )
    header = [_column_name(h) for h in numbered[0][1]]
    sheet = sheet or _sheet_of_header(header)
    if sheet is None:
        raise _refuse(
            _(
                "The header row of %(file)s names neither organisations (a “type” column) "
                "nor accounts (an “email” column)."
            )
            % {"file": name}
        )
    return Table(sheet=sheet, source=name, header=header, rows=numbered[1:])


def _read_xlsx(name: str, data: bytes, budget: list[int]) -> list[Table]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise _refuse(
            _("%(file)s is not a readable XLSX file. Save it again from the spreadsheet.")
            % {"file": name}
        ) from exc
    tables = []
    try:
        for sheet_name in book.sheetnames:
            sheet = _column_name(sheet_name)
            if sheet not in (ORGANISATIONS, ACCOUNTS):
                continue
            rows = book[sheet_name].iter_rows(values_only=True, max_col=COLUMNS_MAX)
            raw = list(_limited(rows, budget, name))
            tables.append(_table(f"{name}, {sheet_name}", raw, sheet))
    except ImportFileRefused:
        raise
    except Exception as exc:
        raise _refuse(
            _("%(file)s is not a readable XLSX file. Save it again from the spreadsheet.")
            % {"file": name}
        ) from exc
    finally:
        book.close()
    if not tables:
        raise _refuse(
            _("%(file)s has no sheet named “organisations” or “accounts”.") % {"file": name}
        )
    return tables


def import_read(files: Iterable[Any], digests: list[str] | None = None) -> list[Table]:
    """The sheets of the uploaded files (``UploadedFile``s): at most two files,
    each at most ``IMPORT_MAX_BYTES``, with at most ``IMPORT_MAX_ROWS`` rows in
    all; each sheet once. Refuses a file it cannot read (``ImportFileRefused``)."""
    files = list(files)
    if not files:
        raise _refuse(_("Choose a CSV or XLSX file."))
    if len(files) > MAX_FILES:
        raise _refuse(_("Upload at most two files: one for organisations, one for accounts."))
    budget = [int(settings.IMPORT_MAX_ROWS)]
    tables: list[Table] = []
    for upload in files:
        name = str(getattr(upload, "name", "") or _("the file"))[:100]
        if (upload.size or 0) > settings.IMPORT_MAX_BYTES:
            raise _refuse(
                _("%(file)s is larger than an import may be (%(max)d kB). Split it.")
                % {"file": name, "max": settings.IMPORT_MAX_BYTES // 1024}
            )
        upload.seek(0)
        data = upload.read(settings.IMPORT_MAX_BYTES + 1)
        if len(data) > settings.IMPORT_MAX_BYTES:
            raise _refuse(
                _("%(file)s is larger than an import may be (%(max)d kB). Split it.")
                % {"file": name, "max": settings.IMPORT_MAX_BYTES // 1024}
            )
        if digests is not None:
            digests.append(hashlib.sha256(data).hexdigest())
        if data[:4] == b"PK\x03\x04" and zipfile.is_zipfile(io.BytesIO(data)):
            tables.extend(_read_xlsx(name, data, budget))
        elif name.lower().endswith((".xlsx", ".xlsm", ".xls")):
            raise _refuse(
                _("%(file)s is not a readable XLSX file. Save it again from the spreadsheet.")
                % {"file": name}
            )
        else:
            tables.extend(_read_csv(name, data, budget))
    seen = [t.sheet for t in tables]
    for sheet in (ORGANISATIONS, ACCOUNTS):
        if seen.count(sheet) > 1:
            raise _refuse(
                _("The %(sheet)s come in more than one sheet or file: put them in one.")
                % {"sheet": sheet}
            )
    return tables


# --- Checking the rows --------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    sheet: str
    source: str
    row: int
    column: str
    message: str


@dataclass
class Prepared:
    """The rows of the files, each normalised, and what is wrong in them on
    their own (without the database)."""

    organisations: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _choices_map(choices: Iterable[tuple[str, Any]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for code, label in choices:
        found[code.lower()] = code
        found[str(label).strip().lower()] = code
    return found


def _languages(text: str) -> tuple[list[str], str | None]:
    known = {code for code, _name in settings.LANGUAGES}
    codes = [c.strip().lower() for c in text.replace(";", ",").replace(" ", ",").split(",")]
    codes = [c for c in codes if c]
    unknown = [c for c in codes if c not in known]
    if unknown:
        return [], ", ".join(unknown)
    return sorted(set(codes)), None


def import_prepare(tables: Iterable[Table]) -> Prepared:
    """Each row normalised (codes for types, roles and languages; e-mail
    addresses as Django stores them), with the errors of each cell."""
    prepared = Prepared()
    types = _choices_map(OrganisationType.choices)
    roles = _choices_map(Role.choices)
    language_codes = {code for code, _name in settings.LANGUAGES}
    for table in tables:
        columns = COLUMNS[table.sheet]

        def error(row: int, column: str, message: str, table: Table = table) -> None:
            prepared.errors.append(RowError(table.sheet, table.source, row, column, message))

        for name in table.header:
            if name and name not in columns:
                error(
                    1,
                    name,
                    _("Unknown column. The columns are: %(columns)s.")
                    % {"columns": ", ".join(columns)},
                )
        for name in REQUIRED[table.sheet]:
            if name not in table.header:
                error(1, name, _("This column is missing."))
        for number, cells in table.rows:
            values = {
                name: (cells[i] if i < len(cells) else "")
                for i, name in enumerate(table.header)
                if name in columns
            }
            row: dict[str, Any] = {"row": number, "source": table.source}
            for name in columns:
                value = values.get(name, "")
                if len(value) > CELL_MAX:
                    error(
                        number, name, _("Too long: at most %(max)d characters.") % {"max": CELL_MAX}
                    )
                    value = value[:CELL_MAX]
                if not value and name in REQUIRED[table.sheet]:
                    error(number, name, _("This cell is empty; fill it in."))
                row[name] = value
            if table.sheet == ORGANISATIONS:
                if row["type"] and row["type"].lower() not in types:
                    error(
                        number,
                        "type",
                        _("Unknown type “%(value)s”. The types are: %(types)s.")
                        % {"value": row["type"], "types": ", ".join(OrganisationType.values)},
                    )
                row["type"] = types.get(row["type"].lower(), row["type"])
                country = row["country"].upper()
                if country and not (len(country) == 2 and country.isascii() and country.isalpha()):
                    error(number, "country", _("Two letters: the country's ISO code, e.g. NL."))
                row["country"] = country
                languages, unknown = _languages(row["languages"])
                if unknown:
                    error(
                        number,
                        "languages",
                        _("Unknown language code: %(codes)s.") % {"codes": unknown},
                    )
                row["languages"] = languages
                prepared.organisations.append(row)
                continue
            email = User.objects.normalize_email(row["email"])
            if email:
                try:
                    validate_email(email)
                except ValidationError:
                    error(
                        number, "email", _("Not an e-mail address: “%(value)s”.") % {"value": email}
                    )
            row["email"] = email
            if row["role"] and row["role"].lower() not in roles:
                error(
                    number,
                    "role",
                    _("Unknown role “%(value)s”. The roles are: %(roles)s.")
                    % {"value": row["role"], "roles": ", ".join(Role.values)},
                )
            row["role"] = roles.get(row["role"].lower(), row["role"])
            language = row["language"].lower()
            if language and language not in language_codes:
                error(
                    number,
                    "language",
                    _("Unknown language code “%(value)s”.") % {"value": row["language"]},
                )
            row["language"] = language
            flag = row["manages_accounts"].lower()
            if flag not in _YES and flag not in _NO:
                error(number, "manages_accounts", _("Write yes or no (or leave it empty)."))
            row["manages_accounts"] = flag in _YES
            prepared.accounts.append(row)
    return prepared


@dataclass
class PlannedRow:
    values: dict[str, Any]
    exists: bool  # there already, exactly as written: skipped

    @property
    def kind_label(self) -> str:
        """The organisation's type or the account's role, in the reader's language."""
        if "role" in self.values:
            return str(Role(self.values["role"]).label) if self.values["role"] in Role else ""
        kind = self.values.get("type", "")
        return str(OrganisationType(kind).label) if kind in OrganisationType else str(kind)


@dataclass
class ImportPlan:
    organisations: list[PlannedRow]
    accounts: list[PlannedRow]
    errors: list[RowError]

    def to_create(self, sheet: str) -> list[dict[str, Any]]:
        return [p.values for p in getattr(self, sheet) if not p.exists]

    @property
    def creates_anything(self) -> bool:
        return bool(self.to_create(ORGANISATIONS) or self.to_create(ACCOUNTS))

    def counts(self) -> dict[str, int]:
        return {
            "organisations": len(self.to_create(ORGANISATIONS)),
            "accounts": len(self.to_create(ACCOUNTS)),
            "skipped": sum(p.exists for p in (*self.organisations, *self.accounts)),
        }


def _names(organisations: list[dict[str, Any]], accounts: list[dict[str, Any]]) -> set[str]:
    return {r["name"].lower() for r in organisations if r["name"]} | {
        r["organisation"].lower() for r in accounts if r["organisation"]
    }


def _emails(accounts: list[dict[str, Any]]) -> set[str]:
    return {r["email"].lower() for r in accounts if r["email"]}


def _existing(
    organisations: list[dict[str, Any]], accounts: list[dict[str, Any]], *, lock: bool = False
) -> tuple[dict[str, Organisation], dict[str, list[User]]]:
    """The organisations and accounts of the database that the rows name (by
    name, by e-mail address or username), locked with ``lock``: two queries."""
    names = sorted(_names(organisations, accounts))
    emails = sorted(_emails(accounts))
    orgs: Any = Organisation.objects.annotate(lower_name=Lower("name")).filter(lower_name__in=names)
    users: Any = (
        User.objects.annotate(lower_email=Lower("email"), lower_username=Lower("username"))
        .filter(Q(lower_email__in=emails) | Q(lower_username__in=emails))
        .order_by("pk")
    )
    if lock:
        orgs, users = orgs.select_for_update(), users.select_for_update()
    found_orgs = {o.name.lower(): o for o in orgs} if names else {}
    found_users: dict[str, list[User]] = {}
    for user in users if emails else ():
        for key in {user.email.lower(), user.username.lower()} & set(emails):
            found_users.setdefault(key, []).append(user)
    return found_orgs, found_users


def import_plan(
    *, actor: User, organisations: list[dict[str, Any]], accounts: list[dict[str, Any]]
) -> ImportPlan:
    """What the rows would do now: created, there already (skipped), or an
    error naming the row and column. Two queries; writes nothing."""
    errors: list[RowError] = []
    orgs, users = _existing(organisations, accounts)
    allowed_roles = set(assignable_roles(actor)) - {Role.ADMINISTRATOR}
    planned_orgs: list[PlannedRow] = []
    new_names: dict[str, int] = {}
    seen: dict[str, int] = {}

    def error(sheet: str, row: dict[str, Any], column: str, message: str) -> None:
        errors.append(RowError(sheet, row.get("source", ""), int(row["row"]), column, message))

    for row in organisations:
        key = row["name"].lower()
        if key in seen:
            error(
                ORGANISATIONS,
                row,
                "name",
                _("This organisation is in the file already, at row %(row)d.") % {"row": seen[key]},
            )
            continue
        seen[key] = int(row["row"])
        existing = orgs.get(key)
        if existing is None:
            new_names[key] = int(row["row"])
            planned_orgs.append(PlannedRow(row, exists=False))
            continue
        differs = [
            name
            for name in ("type", "country", "city")
            if row[name] and row[name] != getattr(existing, name)
        ]
        if row["languages"] and sorted(row["languages"]) != sorted(existing.languages):
            differs.append("languages")
        if differs:
            error(
                ORGANISATIONS,
                row,
                differs[0],
                _(
                    "An organisation named “%(name)s” exists with another %(column)s. Change "
                    "it on its page, or write it here as it is stored."
                )
                % {"name": existing.name, "column": differs[0]},
            )
            continue
        planned_orgs.append(PlannedRow(row, exists=True))
    planned_accounts: list[PlannedRow] = []
    seen = {}
    for row in accounts:
        key = row["email"].lower()
        if key in seen:
            error(
                ACCOUNTS,
                row,
                "email",
                _("This address is in the file already, at row %(row)d.") % {"row": seen[key]},
            )
            continue
        seen[key] = int(row["row"])
        if row["role"] not in allowed_roles:
            error(ACCOUNTS, row, "role", _("An import may not give this role."))
            continue
        org_key = row["organisation"].lower()
        organisation = orgs.get(org_key)
        if organisation is None and org_key not in new_names:
            error(
                ACCOUNTS,
                row,
                "organisation",
                _(
                    "No organisation named “%(name)s”, in PREPARE or in the organisations of "
                    "this import."
                )
                % {"name": row["organisation"]},
            )
            continue
        if organisation is not None and not organisation.is_active:
            error(
                ACCOUNTS,
                row,
                "organisation",
                _("%(name)s is deactivated: it cannot be given accounts.")
                % {"name": organisation.name},
            )
            continue
        matches = users.get(key, [])
        if not matches:
            planned_accounts.append(PlannedRow(row, exists=False))
            continue
        user = matches[0]
        differs = []
        if len(matches) > 1 or organisation is None or user.organisation_id != organisation.pk:
            differs.append("organisation")
        if user.role != row["role"]:
            differs.append("role")
        differs += [
            name
            for name in ("first_name", "last_name", "language")
            if row[name] and row[name] != getattr(user, name)
        ]
        if row["manages_accounts"] and not user.manages_accounts:
            differs.append("manages_accounts")
        if differs:
            error(
                ACCOUNTS,
                row,
                differs[0],
                _(
                    "An account with this e-mail address exists with another %(column)s. "
                    "Change it on its page, or write it here as it is stored."
                )
                % {"column": differs[0]},
            )
            continue
        planned_accounts.append(PlannedRow(row, exists=True))
    return ImportPlan(
        organisations=planned_orgs,
        accounts=planned_accounts,
        errors=sorted(errors, key=lambda e: (e.sheet != ORGANISATIONS, e.row, e.column)),
    )


# --- The preview, handed to the proposal ---------------------------------------------


@dataclass(frozen=True)
class ImportPreview:
    plan: ImportPlan
    errors: list[RowError]  # of the cells and of the plan, in sheet and row order
    token: str  # empty when there are errors or nothing to create
    files: list[str]


def import_preview(*, actor: User, files: Iterable[Any]) -> ImportPreview:
    """Read, check and plan the files: nothing is written. ``token`` carries the
    normalised rows to ``import_propose`` (signed, for this administrator, for
    a day)."""
    require_administrator(actor)
    digests: list[str] = []
    tables = import_read(files, digests)
    prepared = import_prepare(tables)
    plan = import_plan(
        actor=actor, organisations=prepared.organisations, accounts=prepared.accounts
    )
    errors = sorted(
        [*prepared.errors, *plan.errors],
        key=lambda e: (e.sheet != ORGANISATIONS, e.row, e.column),
    )
    names = sorted({t.source.split(", ")[0] for t in tables})
    token = ""
    if not errors and plan.creates_anything:
        token = signing.dumps(
            {
                "by": actor.pk,
                "files": names,
                ORGANISATIONS: prepared.organisations,
                ACCOUNTS: prepared.accounts,
            },
            salt=_SALT,
            compress=True,
        )
    # Logged, though nothing is written: who checked which file (its digest), and
    # what it would have done.
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        object_type="administration.import",
        detail={"step": "previewed", "sha256": digests, **plan.counts(), "errors": len(errors)},
    )
    return ImportPreview(plan=plan, errors=errors, token=token, files=names)


def _preview_rows(actor: User, token: str) -> dict[str, Any]:
    try:
        data = signing.loads(token, salt=_SALT, max_age=PREVIEW_MAX_AGE)
    except signing.BadSignature as exc:
        raise ValidationError(
            {"preview": [_("This preview has expired or is not valid: upload the file again.")]},
            code="preview",
        ) from exc
    if not isinstance(data, dict) or data.get("by") != actor.pk:
        raise ValidationError(
            {"preview": [_("This preview has expired or is not valid: upload the file again.")]},
            code="preview",
        )
    return data


def import_preview_again(*, actor: User, token: str) -> ImportPreview:
    """The preview of a token, planned again now (to show it with an error)."""
    require_administrator(actor)
    data = _preview_rows(actor, token)
    plan = import_plan(actor=actor, organisations=data[ORGANISATIONS], accounts=data[ACCOUNTS])
    ok = not plan.errors and plan.creates_anything
    return ImportPreview(
        plan=plan, errors=plan.errors, token=token if ok else "", files=data.get("files", [])
    )


def _fingerprint(
    organisations: list[dict[str, Any]], accounts: list[dict[str, Any]], lock: bool
) -> str:
    orgs, users = _existing(organisations, accounts, lock=lock)
    state = {
        "organisations": sorted(
            [o.pk, o.name, o.type, o.country, o.city, sorted(o.languages), o.is_active, o.version]
            for o in orgs.values()
        ),
        "accounts": sorted(
            {
                (
                    u.pk,
                    u.username,
                    u.email,
                    u.organisation_id or 0,
                    u.role,
                    u.first_name,
                    u.last_name,
                    u.language,
                    u.manages_accounts,
                    u.is_active,
                )
                for found in users.values()
                for u in found
            }
        ),
    }
    text = json.dumps(state, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def import_fingerprint(payload: Mapping[str, Any], *, lock: bool) -> str:
    """The digest of the organisations and accounts the import names, as they
    are now (locked with ``lock``): a request proposed on other ones is stale."""
    return _fingerprint(list(payload.get(ORGANISATIONS, [])), list(payload.get(ACCOUNTS, [])), lock)


def import_propose(*, actor: User, token: str, code: str) -> Any:
    """Propose the previewed import for a second approver, with the proposer's
    fresh code: an ``AccessChangeRequest`` (nothing is created before it is
    approved). Refused with a ``ValidationError`` if a row now has an error,
    or if there is nothing to create (the import was applied already)."""
    from prepare.partnerships.access_changes.services import _step_up, access_change_propose

    require_administrator(actor)
    data = _preview_rows(actor, token)
    plan = import_plan(actor=actor, organisations=data[ORGANISATIONS], accounts=data[ACCOUNTS])
    if plan.errors:
        raise ValidationError(
            {"preview": [_("Something changed since the preview: upload the file again.")]},
            code="changed",
        )
    if not plan.creates_anything:
        raise ValidationError(
            {"preview": [_("Nothing to import: everything in the file is in PREPARE already.")]},
            code="nothing",
        )
    _step_up(actor, code, None, None, "proposed")
    counts = plan.counts()
    payload = {
        "files": data.get("files", []),
        ORGANISATIONS: plan.to_create(ORGANISATIONS),
        ACCOUNTS: plan.to_create(ACCOUNTS),
        "skipped": counts["skipped"],
    }
    with transaction.atomic():
        base = import_fingerprint(payload, lock=True)
        request = access_change_propose(
            actor=actor, kind=KIND, partnership_id=None, payload=payload, base=base
        )
        audit_record(
            action=EventAction.PERMISSION_CHANGE,
            actor=actor,
            obj=request,
            detail={
                "step": "proposed",
                "access_change": request.pk,
                "kind": KIND,
                "organisations": counts["organisations"],
                "accounts": counts["accounts"],
                "skipped": counts["skipped"],
                "step_up": True,
            },
        )
    return request


# --- Applying an approved import -----------------------------------------------------


def import_apply(*, actor: User, request: Any) -> None:
    """Create the import's organisations and accounts, in the caller's
    transaction (``access_change_approve``): checked again first, and if a
    row cannot be created now, nothing is (``ValidationError``). ``actor`` is
    the approver; the enrolment links are the proposer's and are e-mailed
    after the commit. One audit event per organisation and per account."""
    payload = request.payload
    organisations = list(payload.get(ORGANISATIONS, []))
    accounts = list(payload.get(ACCOUNTS, []))
    proposer = request.proposed_by
    plan = import_plan(actor=proposer, organisations=organisations, accounts=accounts)
    if plan.errors or any(p.exists for p in (*plan.organisations, *plan.accounts)):
        raise ValidationError(
            _(
                "This import can no longer be applied: %(error)s Nothing was created; "
                "reject it and import the file again."
            )
            % {
                "error": plan.errors[0].message
                if plan.errors
                else _("some of its rows are in PREPARE already.")
            },
            code="conflict",
        )
    detail = {"access_change": request.pk, "proposed_by": proposer.pk}
    created: dict[str, Organisation] = {}
    try:
        with transaction.atomic():
            for row in organisations:
                organisation = Organisation(
                    name=row["name"].strip(),
                    type=row["type"],
                    country=row["country"],
                    city=row["city"].strip(),
                    languages=list(row["languages"]),
                )
                organisation.full_clean()
                organisation.save()
                created[organisation.name.lower()] = organisation
                audit_record(
                    action=EventAction.CREATE,
                    actor=actor,
                    obj=organisation,
                    detail={
                        "fields": ["name", "type", "country", "city", "languages", "is_active"],
                        "is_active": True,
                        **detail,
                    },
                )
            orgs, _users = _existing([], accounts)
            for row in accounts:
                key = row["organisation"].lower()
                invitation_make(
                    actor=actor,
                    invited_by=proposer,
                    email=row["email"],
                    first_name=row["first_name"],
                    last_name=row["last_name"],
                    organisation=created.get(key) or orgs[key],
                    role=row["role"],
                    manages_accounts=bool(row["manages_accounts"]),
                    language=row["language"],
                    detail=detail,
                )
    except (IntegrityError, ValidationError, KeyError) as exc:
        raise ValidationError(
            _(
                "This import can no longer be applied: an organisation or account of it was "
                "created meanwhile. Nothing was created; reject it and import the file again."
            ),
            code="conflict",
        ) from exc
