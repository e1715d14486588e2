"""Reading tables and form controls out of rendered pages, for assertions."""

from __future__ import annotations

from html.parser import HTMLParser


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict[str, object]] = []
        self._stack: list[dict[str, object]] = []
        self._cell: list[str] | None = None
        self._in_caption = False
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            table: dict[str, object] = {"caption": "", "rows": []}
            self._stack.append(table)
            self.tables.append(table)
        elif not self._stack:
            return
        elif tag == "caption":
            self._in_caption = True
        elif tag == "tr":
            self._stack[-1]["rows"].append([])  # type: ignore[attr-defined]
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "span" and a.get("aria-hidden") == "true":
            self._hidden_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if not self._stack:
            return
        if tag == "table":
            self._stack.pop()
        elif tag == "caption":
            self._in_caption = False
        elif tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            self._stack[-1]["rows"][-1].append(text)  # type: ignore[index]
            self._cell = None
        elif tag == "span" and self._hidden_depth:
            self._hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._stack:
            return
        if self._in_caption:
            self._stack[-1]["caption"] = str(self._stack[-1]["caption"]) + data
        elif self._cell is not None and not self._hidden_depth:
            self._cell.append(data)


def tables(html: str) -> list[dict[str, object]]:
    """Every table: its caption and its rows as lists of visible cell texts
    (text hidden from assistive technology with aria-hidden is left out)."""
    parser = _Tables()
    parser.feed(html)
    for table in parser.tables:
        table["caption"] = " ".join(str(table["caption"]).split())
    return parser.tables


def table_with_caption(html: str, starts_with: str) -> list[list[str]]:
    found = [t for t in tables(html) if str(t["caption"]).startswith(starts_with)]
    assert len(found) == 1, [t["caption"] for t in tables(html)]
    return found[0]["rows"]  # type: ignore[return-value]


class _Form(HTMLParser):
    def __init__(self, action: str | None) -> None:
        super().__init__()
        self.action = action
        self._in_form = action is None
        self.values: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self._select: str | None = None
        self._label_for: str | None = None
        self._label_text: list[str] = []
        self.ids: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is not None:
            self._in_form = a.get("action") == self.action
            return
        if not self._in_form:
            return
        if tag == "input" and a.get("name") and a.get("type") != "submit":
            self.values[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a["name"]
            self.ids[a["name"]] = a.get("id", "")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")
        elif tag == "label":
            self._label_for = a.get("for")
            self._label_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.action is not None:
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "label" and self._label_for:
            self.labels[self._label_for] = " ".join("".join(self._label_text).split())
            self._label_for = None

    def handle_data(self, data: str) -> None:
        if self._label_for:
            self._label_text.append(data)


def form_values(html: str, action: str | None = None) -> dict[str, str]:
    """The values a browser would submit: inputs and the selected options
    (of the form posting to ``action``, if given)."""
    parser = _Form(action)
    parser.feed(html)
    return parser.values


def select_labels(html: str, action: str | None = None) -> dict[str, str]:
    """Each select's name -> the text of the label pointing at it."""
    parser = _Form(action)
    parser.feed(html)
    return {name: parser.labels.get(id_, "") for name, id_ in parser.ids.items()}
