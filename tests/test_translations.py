"""The translation catalogues (prepare/locale) and the language switcher.

The catalogues are read twice: the .po sources with the small parser below
(polib is not a dependency) and the committed .mo files with the standard
library's ``gettext``, which is what Django loads at run time.
"""

from __future__ import annotations

import gettext
import re
import struct
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
LANGUAGE_CODES = [code for code, _name in settings.LANGUAGES]
TRANSLATED = [code for code in LANGUAGE_CODES if code != "en"]

# gettext's plural rules, as Django's own catalogues state them (Spanish has a
# third form for round millions: "un millón de casos").
PLURAL_FORMS = {
    "en": "nplurals=2; plural=(n != 1);",
    "fr": "nplurals=2; plural=(n > 1);",
    "nl": "nplurals=2; plural=(n != 1);",
    "es": "nplurals=3; plural=n == 1 ? 0 : n != 0 && n % 1000000 == 0 ? 1 : 2;",
    "ca": "nplurals=2; plural=(n != 1);",
    "de": "nplurals=2; plural=(n != 1);",
    "sv": "nplurals=2; plural=(n != 1);",
}

# "Sign in" in each language, as the sign-in page must show it.
SIGN_IN = {
    "en": "Sign in",
    "fr": "Se connecter",
    "nl": "Inloggen",
    "es": "Iniciar sesión",
    "ca": "Inicia la sessió",
    "de": "Anmelden",
    "sv": "Logga in",
}

# Python-format placeholders (%(name)s, %d, %%) and HTML tags: a translation
# must keep exactly the ones of its source.
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]|<[^>]+>")


# --- a minimal .po reader ----------------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    msgctxt: str | None = None

    @property
    def key(self) -> str:
        return self.msgid if self.msgctxt is None else f"{self.msgctxt}\x04{self.msgid}"

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values())

    def sources(self) -> list[tuple[str, str]]:
        """(source, translation) pairs: msgstr[0] renders msgid, the others msgid_plural."""
        if self.msgid_plural is None:
            return [(self.msgid, self.msgstr[0])]
        return [
            (self.msgid if n == 0 else self.msgid_plural, text)
            for n, text in sorted(self.msgstr.items())
        ]


ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unquote(token: str) -> str:
    assert token.startswith('"') and token.endswith('"'), token
    return re.sub(r"\\(.)", lambda m: ESCAPES[m.group(1)], token[1:-1])


def read_po(path: Path) -> tuple[str, list[Entry]]:
    """The header's msgstr and the entries of a .po file (obsolete ones skipped)."""
    entries: list[Entry] = []
    current = Entry()
    started = False
    target: tuple[str, int] = ("", 0)

    def finish() -> None:
        nonlocal current, started
        if started:
            entries.append(current)
        current, started = Entry(), False

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            finish()
        elif line.startswith("#~"):
            continue
        elif line.startswith("#,"):
            current.flags |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            name, index = target
            value = _unquote(line)
            if name == "msgstr":
                current.msgstr[index] += value
            else:
                setattr(current, name, (getattr(current, name) or "") + value)
        else:
            match = re.fullmatch(r'(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])? (".*")', line)
            assert match, f"{path}: cannot read {line!r}"
            name, index_text, token = match.groups()
            if name in ("msgid", "msgctxt") and started and current.msgstr:
                finish()
            started = True
            index = int(index_text or 0)
            target = (name, index)
            if name == "msgstr":
                current.msgstr[index] = _unquote(token)
            else:
                setattr(current, name, _unquote(token))
    finish()
    header, rest = entries[0], entries[1:]
    assert header.msgid == "", f"{path}: the header comes first"
    return header.msgstr[0], rest


def po_path(code: str) -> Path:
    return LOCALE_DIR / translation.to_locale(code) / "LC_MESSAGES" / "django.po"


def mo_path(code: str) -> Path:
    return po_path(code).with_suffix(".mo")


def load_mo(code: str) -> gettext.GNUTranslations:
    with mo_path(code).open("rb") as handle:
        return gettext.GNUTranslations(handle)


def compiled(catalogue: gettext.GNUTranslations, entry: Entry, n: int | None = None) -> str:
    """The compiled text of ``entry`` (its plural form for ``n``), in its context."""
    if entry.msgid_plural is None:
        if entry.msgctxt is None:
            return catalogue.gettext(entry.msgid)
        return catalogue.pgettext(entry.msgctxt, entry.msgid)
    assert n is not None
    if entry.msgctxt is None:
        return catalogue.ngettext(entry.msgid, entry.msgid_plural, n)
    return catalogue.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, n)


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


# --- the catalogues ------------------------------------------------------------------


def test_every_language_has_a_catalogue_and_no_other():
    assert LANGUAGE_CODES == ["en", "fr", "nl", "es", "ca", "de", "sv"]
    for code in LANGUAGE_CODES:
        assert po_path(code).is_file(), code
        assert mo_path(code).is_file(), code
    on_disk = {p.name for p in LOCALE_DIR.iterdir() if p.is_dir()}
    assert on_disk == {translation.to_locale(code) for code in LANGUAGE_CODES}


@pytest.mark.parametrize("code", LANGUAGE_CODES)
def test_header_names_the_language_and_its_plural_rule(code):
    header, entries = read_po(po_path(code))
    fields = dict(line.split(": ", 1) for line in header.splitlines() if ": " in line)
    assert fields["Language"] == code
    assert fields["Content-Type"] == "text/plain; charset=UTF-8"
    assert fields["Plural-Forms"] == PLURAL_FORMS[code]
    nplurals = int(fields["Plural-Forms"].split(";")[0].removeprefix("nplurals="))
    plural_entries = [e for e in entries if e.msgid_plural is not None]
    assert plural_entries, "the source has plural strings"
    for entry in plural_entries:
        assert sorted(entry.msgstr) == list(range(nplurals)), entry.msgid


@pytest.mark.parametrize("code", LANGUAGE_CODES)
def test_every_language_has_exactly_the_messages_of_english(code):
    # All catalogues are generated from the same source by `make messages`.
    _h, english = read_po(po_path("en"))
    _h, entries = read_po(po_path(code))
    assert len(english) > 400
    assert {(e.key, e.msgid_plural) for e in entries} == {(e.key, e.msgid_plural) for e in english}
    assert len({e.key for e in entries}) == len(entries), "no duplicate msgid"


def test_english_holds_every_msgid_of_the_french_catalogue():
    _h, english = read_po(po_path("en"))
    _h, french = read_po(po_path("fr"))
    missing = {e.key for e in french} - {e.key for e in english}
    assert not missing


@pytest.mark.parametrize("code", LANGUAGE_CODES)
def test_no_fuzzy_entry(code):
    _h, entries = read_po(po_path(code))
    assert [e.msgid for e in entries if "fuzzy" in e.flags] == []


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_message_is_translated(code):
    _h, entries = read_po(po_path(code))
    assert [e.msgid for e in entries if not e.translated] == []


@pytest.mark.parametrize("code", LANGUAGE_CODES)
def test_translations_keep_the_placeholders_and_markup_of_their_source(code):
    _h, entries = read_po(po_path(code))
    catalogue = load_mo(code)
    checked = 0
    for entry in entries:
        if not entry.translated:
            continue
        for n, (source, text) in enumerate(entry.sources()):
            assert placeholders(text) == placeholders(source), (code, entry.msgid, n)
            names = re.findall(r"%\(([^)]+)\)", source)
            if "python-format" in entry.flags and names:
                text % {name: 1 for name in names}  # raises on a malformed placeholder
        # The compiled catalogue carries the same text, checked again there.
        if entry.msgid_plural is None:
            assert placeholders(compiled(catalogue, entry)) == placeholders(entry.msgid)
        else:
            text = compiled(catalogue, entry, 2)
            assert placeholders(text) == placeholders(entry.msgid_plural)
        checked += 1
    assert checked == (0 if code == "en" else len(entries))


@pytest.mark.parametrize("code", LANGUAGE_CODES)
def test_the_compiled_catalogue_is_the_current_po(code):
    """The committed .mo is the compilation of the committed .po: same entries,
    same text. (File times are not compared: git does not keep them.)"""
    _h, entries = read_po(po_path(code))
    catalogue = load_mo(code)
    expected = [e for e in entries if e.translated and "fuzzy" not in e.flags]
    for entry in expected:
        if entry.msgid_plural is None:
            assert compiled(catalogue, entry) == entry.msgstr[0], entry.msgid
        else:
            for n in (0, 1, 2, 5, 1_000_000):
                index = catalogue.plural(n)
                assert compiled(catalogue, entry, n) == entry.msgstr[index], (entry.msgid, n)
    # The .mo header states its number of strings: the header plus each entry.
    magic, _revision, count = struct.unpack("<3I", mo_path(code).read_bytes()[:12])
    assert magic == 0x950412DE
    assert count == len(expected) + 1


def test_plural_rules_through_django():
    one, many = "%(counter)s case", "%(counter)s cases"
    with translation.override("en"):
        assert translation.ngettext(one, many, 1) == one
        assert translation.ngettext(one, many, 0) == many
    with translation.override("fr"):
        assert translation.ngettext(one, many, 0) == "%(counter)s dossier"
        assert translation.ngettext(one, many, 2) == "%(counter)s dossiers"
    with translation.override("es"):
        assert translation.ngettext(one, many, 1) == "%(counter)s caso"
        assert translation.ngettext(one, many, 3) == "%(counter)s casos"
    with translation.override("de"):
        assert translation.gettext("My cases") == "Meine Fälle"
        # Django's own catalogue still answers for its strings.
        assert (
            translation.gettext("This field is required.")
            == "Dieses Feld ist zwingend erforderlich."
        )


# --- pages ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("code", LANGUAGE_CODES)
def test_sign_in_page_follows_accept_language(client, code):
    response = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE=f"{code},en;q=0.5")
    assert response.status_code == 200
    assert response["Content-Language"] == code
    html = response.content.decode()
    assert f'<html lang="{code}">' in html
    assert f"<h1>{SIGN_IN[code]}</h1>" in html


@pytest.mark.django_db
def test_language_cookie_wins_over_accept_language(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    response = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="de")
    html = response.content.decode()
    assert "<h1>Se connecter</h1>" in html
    assert "Anmelden" not in html


class _LanguageForm(HTMLParser):
    """The fields of the language switcher form in a page."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.fields: dict[str, str] = {}
        self.options: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and a.get("action") == self.action:
            self.inside = True
        elif self.inside and tag == "input" and a.get("name"):
            self.fields[a["name"] or ""] = a.get("value") or ""
        elif self.inside and tag == "option":
            self.options.append(a.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def _language_form(html: str) -> _LanguageForm:
    form = _LanguageForm(reverse("set_language"))
    form.feed(html)
    return form


@pytest.mark.django_db
def test_signed_in_user_switches_language_with_the_switcher(cast, as_user):
    client = as_user(cast.case_manager)
    client.handler.enforce_csrf_checks = True  # the real form must carry its token
    caseload = reverse("cases:caseload")

    page = client.get(caseload)
    assert page.status_code == 200
    assert "<h1>My cases</h1>" in page.content.decode()
    form = _language_form(page.content.decode())
    assert form.options == LANGUAGE_CODES
    assert form.fields["next"] == caseload
    assert form.fields["csrfmiddlewaretoken"]

    response = client.post(reverse("set_language"), {**form.fields, "language": "fr"})
    assert response.status_code == 302
    assert response["Location"] == caseload
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "fr"
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"

    page = client.get(caseload)
    html = page.content.decode()
    assert '<html lang="fr">' in html
    assert "<h1>Mes dossiers</h1>" in html
    assert "Se déconnecter" in html

    # And back out of French, through the French page's own form.
    form = _language_form(html)
    client.post(reverse("set_language"), {**form.fields, "language": "nl"})
    html = client.get(caseload).content.decode()
    assert "<h1>Mijn casussen</h1>" in html
    # The user is still signed in with the second factor throughout.
    assert "Uitloggen" in html


@pytest.mark.django_db
def test_switcher_without_token_is_refused(cast, as_user):
    client = as_user(cast.case_manager)
    client.handler.enforce_csrf_checks = True
    response = client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    assert response.status_code == 403
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


@pytest.mark.django_db
def test_switcher_does_not_redirect_off_site(cast, as_user):
    client = as_user(cast.case_manager)
    response = client.post(
        reverse("set_language"), {"language": "sv", "next": "https://evil.example/phish"}
    )
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "sv"


@pytest.mark.django_db
def test_a_language_that_is_not_offered_falls_back_to_english(client):
    # Django accepts any language it has a catalogue for (it ships Portuguese),
    # but the pages only speak the languages of settings.LANGUAGES.
    client.post(reverse("set_language"), {"language": "pt", "next": "/"})
    response = client.get(reverse("accounts:login"))
    assert response["Content-Language"] == "en"
    assert "<h1>Sign in</h1>" in response.content.decode()
