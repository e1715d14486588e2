"""An instrument as a workbook laid out like XLSForm, both ways.

Sheets (row 1 holds the column names; a text in a language is a column
``label::fr``):

- ``settings``: one row of values: ``identifier``, ``version``, ``category``,
  ``languages`` (codes separated by spaces), ``review_interval_days`` or
  ``review_interval_months``, ``training``, ``maps_from_version``,
  ``scenarios`` (yes/no), ``scenarios_likelihood_scale``, and the texts
  ``title::*``, ``description::*``, ``judgement_label::*``,
  ``judgement_guidance::*``, ``scenarios_label::*``, ``scenarios_guidance::*``,
  ``management_plan_label::*``, ``management_plan_guidance::*``;
- ``domains``: ``id``, ``label::*``, ``description::*``;
- ``items``: ``id``, ``domain``, ``kind``, ``scale``, ``relevance`` and
  ``evidence_required`` (yes/no), ``label::*``, ``guidance::*``;
- ``scales``: ``scale``, ``key``, ``label::*``, ``guidance::*`` (one row per
  level; a row without a key gives the scale's own label);
- ``judgement``: ``key``, ``label::*``, ``guidance::*``;
- ``plan`` (optional): ``id``, ``label::*``, ``guidance::*``;
- ``maps_from`` (optional): ``change``, ``old``, ``new`` (item ids separated
  by spaces).

Reading records, for every value, the sheet, row and column it came from, so
that a problem found in the structure is reported where the author can fix it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook

from prepare.assessments.validation import Problem

REQUIRED_SHEETS = ("settings", "domains", "items", "scales", "judgement")
OPTIONAL_SHEETS = ("plan", "maps_from")
SETTINGS_PLAIN = {
    "identifier",
    "version",
    "category",
    "languages",
    "review_interval_days",
    "review_interval_months",
    "training",
    "maps_from_version",
    "scenarios",
    "scenarios_likelihood_scale",
}
SETTINGS_TEXTS = {
    "title": ("title",),
    "description": ("description",),
    "judgement_label": ("judgement", "label"),
    "judgement_guidance": ("judgement", "guidance"),
    "scenarios_label": ("scenarios", "label"),
    "scenarios_guidance": ("scenarios", "guidance"),
    "management_plan_label": ("management_plan", "label"),
    "management_plan_guidance": ("management_plan", "guidance"),
}
COLUMNS: dict[str, tuple[set[str], set[str]]] = {
    # sheet: (plain columns, text columns)
    "domains": ({"id"}, {"label", "description"}),
    "items": (
        {"id", "domain", "kind", "scale", "relevance", "evidence_required"},
        {"label", "guidance"},
    ),
    "scales": ({"scale", "key"}, {"label", "guidance"}),
    "judgement": ({"key"}, {"label", "guidance"}),
    "plan": ({"id"}, {"label", "guidance"}),
    "maps_from": ({"change", "old", "new"}, set()),
}
# More rows than an instrument needs (500 items at most) means a wrong file.
MAX_ROWS = 2000
YES = {"yes", "true", "1", "y", "oui", "ja", "sí", "si", "sì"}
NO = {"no", "false", "0", "n", "non", "nee", "nein", "nej"}


@dataclass
class WorkbookRead:
    data: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    # path inside the instrument → "sheet items, row 14, column scale"
    locations: dict[str, str] = field(default_factory=dict)


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _flag(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in YES:
        return True
    if isinstance(value, str) and value.lower() in NO:
        return False
    return value  # the schema says what is wrong


def _number(value: Any) -> Any:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def _words(value: Any) -> list[str]:
    return str(value).split() if value is not None else []


def _where(sheet: str, row: int | None = None, column: str | None = None) -> str:
    if row is None:
        return _("sheet %(sheet)s") % {"sheet": sheet}
    if column is None:
        return _("sheet %(sheet)s, row %(row)s") % {"sheet": sheet, "row": row}
    return _("sheet %(sheet)s, row %(row)s, column %(column)s") % {
        "sheet": sheet,
        "row": row,
        "column": column,
    }


class _Reader:
    def __init__(self, read: WorkbookRead) -> None:
        self.read = read

    def rows(
        self, ws: Any, plain: set[str], texts: set[str]
    ) -> Iterator[tuple[int, dict[str, Any], dict[str, dict[str, Any]]]]:
        """Each non-empty row: (row number, plain values, {text field: {language: value}})."""
        header: list[str | None] = []
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            if number > MAX_ROWS:
                self.problem(
                    _where(ws.title), _("more than %(n)s rows: not an instrument") % {"n": MAX_ROWS}
                )
                return
            if number == 1:
                header = [_cell(v) if v is not None else None for v in values]
                header = [str(h) if h is not None else None for h in header]
                for name in header:
                    if name is None:
                        continue
                    base, _sep, code = name.partition("::")
                    if not (name in plain or (code and base in texts)):
                        self.problem(_where(ws.title, 1, name), _("unknown column"))
                continue
            cells = [_cell(v) for v in values]
            if all(v is None for v in cells):
                continue
            found: dict[str, Any] = {}
            text: dict[str, dict[str, Any]] = {}
            for name, value in zip(header, cells, strict=False):
                if name is None or value is None:
                    continue
                base, _sep, code = name.partition("::")
                if name in plain:
                    found[name] = value
                elif code and base in texts:
                    text.setdefault(base, {})[code] = value
            yield number, found, text

    def problem(self, where: str, message: str) -> None:
        self.read.problems.append(Problem(where, message))

    def locate(self, path: str, sheet: str, row: int, column: str | None = None) -> None:
        self.read.locations[path] = _where(sheet, row, column)

    def locate_texts(self, path: str, sheet: str, row: int, text: Mapping[str, Any]) -> None:
        for code in text:
            self.locate(f"{path}.{code}", sheet, row, f"{path.rsplit('.', 1)[-1]}::{code}")


def read_workbook(content: bytes) -> WorkbookRead:
    """The instrument in a workbook, as the structure the validator checks."""
    read = WorkbookRead(data={})
    reader = _Reader(read)
    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:
        read.problems.append(Problem("", _("not a workbook that can be read (.xlsx)")))
        return read
    try:
        names = set(wb.sheetnames)
        for name in sorted(names - set(REQUIRED_SHEETS) - set(OPTIONAL_SHEETS)):
            reader.problem(_where(name), _("unknown sheet"))
        for name in REQUIRED_SHEETS:
            if name not in names:
                reader.problem(_where(name), _("missing sheet"))
        if read.problems:
            return read
        _read_settings(reader, wb["settings"])
        if not read.problems:
            _read_lists(reader, wb, names)
    finally:
        wb.close()
    return read


def _read_settings(reader: _Reader, ws: Any) -> None:
    data = reader.read.data
    rows = list(reader.rows(ws, SETTINGS_PLAIN, set(SETTINGS_TEXTS)))
    if len(rows) != 1:
        reader.problem(_where("settings"), _("needs exactly one row of values under the names"))
        return
    row, plain, texts = rows[0]

    def put(path: str, value: Any, column: str) -> None:
        data[path] = value
        reader.locate(path, "settings", row, column)

    for name in ("identifier", "version", "category", "training"):
        if name in plain:
            value = plain[name]
            # A number typed where a text is meant (a version 2, an id 12) is that text.
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            put(name, value, name)
    if "languages" in plain:
        put("languages", _words(plain["languages"]), "languages")
        for i in range(len(data["languages"])):
            reader.locate(f"languages[{i}]", "settings", row, "languages")
    for unit in ("days", "months"):
        if f"review_interval_{unit}" in plain:
            data.setdefault("review_interval", {})[unit] = _number(plain[f"review_interval_{unit}"])
            reader.locate(f"review_interval.{unit}", "settings", row, f"review_interval_{unit}")
    reader.locate("review_interval", "settings", row)
    judgement: dict[str, Any] = {"rationale_required": True}
    data["judgement"] = judgement
    if _flag(plain.get("scenarios")) is True or "scenarios_likelihood_scale" in plain:
        data["scenarios"] = {}
        if "scenarios_likelihood_scale" in plain:
            data["scenarios"]["likelihood_scale"] = plain["scenarios_likelihood_scale"]
            reader.locate(
                "scenarios.likelihood_scale", "settings", row, "scenarios_likelihood_scale"
            )
    elif plain.get("scenarios") is not None and _flag(plain["scenarios"]) is not False:
        reader.problem(_where("settings", row, "scenarios"), _("write yes or no"))
    for column, value in texts.items():
        target = SETTINGS_TEXTS[column]
        if target[0] in ("scenarios", "management_plan") and target[0] not in data:
            if target[0] == "scenarios":
                reader.problem(
                    _where("settings", row, f"{column}::…"),
                    _("scenarios are not asked for (scenarios: no)"),
                )
                continue
            data["management_plan"] = {}
        holder = data
        for part in target[:-1]:
            holder = holder[part]
        holder[target[-1]] = value
        path = ".".join(target)
        reader.locate(path, "settings", row)
        for code in value:
            reader.locate(f"{path}.{code}", "settings", row, f"{column}::{code}")
    if "maps_from_version" in plain:
        old_version = plain["maps_from_version"]
        if isinstance(old_version, int) and not isinstance(old_version, bool):
            old_version = str(old_version)
        data["maps_from"] = {"version": old_version, "items": []}
        reader.locate("maps_from.version", "settings", row, "maps_from_version")
        reader.locate("maps_from", "settings", row, "maps_from_version")


def _read_lists(reader: _Reader, wb: Any, names: set[str]) -> None:
    data = reader.read.data
    for sheet, listed in (("domains", "domains"), ("items", "items")):
        plain_cols, text_cols = COLUMNS[sheet]
        data[listed] = []
        for row, plain, texts in reader.rows(wb[sheet], plain_cols, text_cols):
            path = f"{listed}[{len(data[listed])}]"
            entry: dict[str, Any] = {}
            for name, value in plain.items():
                if name in ("relevance", "evidence_required"):
                    value = _flag(value)
                elif isinstance(value, int) and not isinstance(value, bool):
                    value = str(value)  # an id such as 12 typed as a number
                entry[name] = value
                reader.locate(f"{path}.{name}", sheet, row, name)
            for name, text in texts.items():
                entry[name] = text
                reader.locate(f"{path}.{name}", sheet, row)
                reader.locate_texts(f"{path}.{name}", sheet, row, text)
            reader.locate(path, sheet, row)
            data[listed].append(entry)
        reader.read.locations.setdefault(listed, _where(sheet))

    scales: dict[str, Any] = {}
    for row, plain, texts in reader.rows(wb["scales"], *COLUMNS["scales"]):
        name = str(plain.get("scale", ""))
        if not name:
            reader.problem(_where("scales", row, "scale"), _("required, missing"))
            continue
        scale = scales.setdefault(name, {"levels": []})
        reader.read.locations.setdefault(f"scales.{name}", _where("scales", row))
        if "key" not in plain:
            if "label" in texts:
                scale["label"] = texts["label"]
                reader.locate_texts(f"scales.{name}.label", "scales", row, texts["label"])
                reader.locate(f"scales.{name}.label", "scales", row)
            continue
        path = f"scales.{name}.levels[{len(scale['levels'])}]"
        scale["levels"].append(_level(reader, "scales", row, path, plain, texts))
    if scales:
        data["scales"] = scales

    levels: list[dict[str, Any]] = []
    for row, plain, texts in reader.rows(wb["judgement"], *COLUMNS["judgement"]):
        levels.append(
            _level(reader, "judgement", row, f"judgement.levels[{len(levels)}]", plain, texts)
        )
    data["judgement"]["levels"] = levels
    reader.read.locations.setdefault("judgement", _where("judgement"))

    if "plan" in names:
        sections: list[dict[str, Any]] = []
        for row, plain, texts in reader.rows(wb["plan"], *COLUMNS["plan"]):
            path = f"management_plan.sections[{len(sections)}]"
            section: dict[str, Any] = {"id": str(plain["id"])} if "id" in plain else {}
            reader.locate(f"{path}.id", "plan", row, "id")
            for name, text in texts.items():
                section[name] = text
                reader.locate(f"{path}.{name}", "plan", row)
                reader.locate_texts(f"{path}.{name}", "plan", row, text)
            reader.locate(path, "plan", row)
            sections.append(section)
        if sections or "management_plan" in data:
            data.setdefault("management_plan", {})["sections"] = sections
            reader.read.locations.setdefault("management_plan", _where("plan"))

    if "maps_from" in names:
        mappings: list[dict[str, Any]] = []
        for row, plain, _texts in reader.rows(wb["maps_from"], *COLUMNS["maps_from"]):
            path = f"maps_from.items[{len(mappings)}]"
            mapping: dict[str, Any] = {}
            if "change" in plain:
                mapping["change"] = plain["change"]
            mapping["old"] = _words(plain.get("old"))
            if plain.get("new") is not None:
                mapping["new"] = _words(plain["new"])
            for column in ("change", "old", "new"):
                reader.locate(f"{path}.{column}", "maps_from", row, column)
            for column in ("old", "new"):
                for i in range(len(mapping.get(column, []))):
                    reader.locate(f"{path}.{column}[{i}]", "maps_from", row, column)
            reader.locate(path, "maps_from", row)
            mappings.append(mapping)
        if mappings and "maps_from" not in data:
            reader.problem(
                _where("settings", 2, "maps_from_version"),
                _("the sheet maps_from needs the earlier version here"),
            )
        elif "maps_from" in data:
            data["maps_from"]["items"] = mappings


def _level(
    reader: _Reader,
    sheet: str,
    row: int,
    path: str,
    plain: Mapping[str, Any],
    texts: Mapping[str, Any],
) -> dict[str, Any]:
    level: dict[str, Any] = {"key": str(plain["key"])} if "key" in plain else {}
    reader.locate(f"{path}.key", sheet, row, "key")
    for name, text in texts.items():
        level[name] = text
        reader.locate(f"{path}.{name}", sheet, row)
        reader.locate_texts(f"{path}.{name}", sheet, row, text)
    reader.locate(path, sheet, row)
    return level


# -- writing -------------------------------------------------------------------


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _append(ws: Any, values: list[Any]) -> None:
    """A row of values, each text kept as text: openpyxl would write one that
    starts with "=" as a formula, which a spreadsheet then runs (and which
    reads back empty)."""
    ws.append(values)
    for cell in ws[ws.max_row]:
        if isinstance(cell.value, str) and cell.value.startswith("="):
            cell.data_type = "s"


def write_workbook(content: Mapping[str, Any]) -> bytes:
    """The workbook of canonical content; reading it back gives the same content."""
    languages = list(content["languages"])
    wb = Workbook()
    settings = wb.active
    assert settings is not None
    settings.title = "settings"

    def text_columns(names: list[str], entries: list[Mapping[str, Any]]) -> list[str]:
        return [
            f"{name}::{code}"
            for name in names
            if any(name in e for e in entries)
            for code in languages
        ]

    def sheet(
        title: str, plain: list[str], texts: list[str], rows: list[Mapping[str, Any]]
    ) -> None:
        ws = wb.create_sheet(title)
        columns = plain + text_columns(texts, rows)
        _append(ws, columns)
        for entry in rows:
            line = []
            for column in columns:
                base, _sep, code = column.partition("::")
                value = entry.get(base)
                line.append(value.get(code) if code and isinstance(value, dict) else value)
            _append(ws, line)

    row: dict[str, Any] = {
        "identifier": content["identifier"],
        "version": content["version"],
        "category": content["category"],
        "languages": " ".join(languages),
        "training": content.get("training"),
    }
    for unit, value in content["review_interval"].items():
        row[f"review_interval_{unit}"] = value
    if "scenarios" in content:
        row["scenarios"] = "yes"
        row["scenarios_likelihood_scale"] = content["scenarios"]["likelihood_scale"]
    if "maps_from" in content:
        row["maps_from_version"] = content["maps_from"]["version"]
    for column, target in SETTINGS_TEXTS.items():
        holder: Any = content
        for part in target:
            holder = holder.get(part) if isinstance(holder, dict) else None
        if holder:
            row[column] = holder
    plain = [c for c in row if c not in SETTINGS_TEXTS]
    texts = [c for c in SETTINGS_TEXTS if c in row]
    ws = settings
    columns = plain + [f"{name}::{code}" for name in texts for code in languages]
    _append(ws, columns)
    _append(
        ws,
        [
            row[c.partition("::")[0]].get(c.partition("::")[2]) if "::" in c else row[c]
            for c in columns
        ],
    )

    sheet("domains", ["id"], ["label", "description"], content["domains"])
    sheet(
        "items",
        ["id", "domain", "kind", "scale", "relevance", "evidence_required"],
        ["label", "guidance"],
        [
            {
                **item,
                "relevance": _yes_no(item["relevance"]),
                "evidence_required": _yes_no(item["evidence_required"]),
            }
            for item in content["items"]
        ],
    )
    scale_rows: list[Mapping[str, Any]] = []
    for name, scale in content.get("scales", {}).items():
        if "label" in scale:
            scale_rows.append({"scale": name, "label": scale["label"]})
        scale_rows += [{"scale": name, **level} for level in scale["levels"]]
    sheet("scales", ["scale", "key"], ["label", "guidance"], scale_rows)
    sheet("judgement", ["key"], ["label", "guidance"], content["judgement"]["levels"])
    if "management_plan" in content:
        sheet("plan", ["id"], ["label", "guidance"], content["management_plan"]["sections"])
    if "maps_from" in content:
        sheet(
            "maps_from",
            ["change", "old", "new"],
            [],
            [
                {
                    "change": m["change"],
                    "old": " ".join(m["old"]),
                    "new": " ".join(m.get("new", [])) or None,
                }
                for m in content["maps_from"]["items"]
            ],
        )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
