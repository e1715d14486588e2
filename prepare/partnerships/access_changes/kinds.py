"""The kinds of change that widen access and wait for a second approver.

Each kind knows three things about its ``AccessChangeRequest.payload``: how to
describe it to the approver (a readable diff), what the thing it changes looks
like now (a fingerprint, compared with ``AccessChangeRequest.base`` so that a
stale request is refused), and how to apply it. Adding a kind (e.g. a bulk
import) is one class here and one line in ``KINDS``; see
docs/decisions/0020-four-eyes-on-what-widens-access.md.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from django.utils import formats
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from prepare.access.categories import Category
from prepare.accounts.models import Organisation, OrganisationType, Role, User
from prepare.partnerships import services as agreements
from prepare.partnerships.models import AccessChangeRequest, SharingAgreement

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise
else:
    StrOrPromise = object

ACCESS_LABELS: Mapping[str, StrOrPromise] = {
    agreements.NO_ACCESS: _("No access"),
    "read": _("Read"),
    "write": _("Read and write"),
}


@dataclass(frozen=True)
class DiffLine:
    """One line of what a change does, as the approver reads it."""

    subject: str  # an organisation's name, or "Period"
    what: str  # a category's label, or "valid from" / "valid until"
    before: str
    after: str
    widens: bool


@dataclass(frozen=True)
class Description:
    title: str
    lines: list[DiffLine]
    # What the approver checks the change against (e.g. the agreement's legal
    # basis and period): (label, value) pairs.
    facts: list[tuple[str, str]] = field(default_factory=list)

    @property
    def widening(self) -> list[DiffLine]:
        return [line for line in self.lines if line.widens]

    @property
    def narrowing(self) -> list[DiffLine]:
        return [line for line in self.lines if not line.widens]


class AccessChangeKind(Protocol):
    key: str
    label: StrOrPromise
    # Why an approval was refused as stale, for the approver.
    stale_message: StrOrPromise

    def describe(self, request: AccessChangeRequest) -> Description:
        """What the change does, for the approver: at most two queries."""
        ...

    def summary(self, payload: Mapping[str, Any]) -> str:
        """One line for a list of requests, from the payload alone (no query)."""
        ...

    def fingerprint(self, request: AccessChangeRequest, *, lock: bool) -> str:
        """The fingerprint of what the change applies to, as it is now (locking
        it with ``lock``, inside the caller's transaction)."""
        ...

    def apply(self, *, actor: User, request: AccessChangeRequest) -> None:
        """Make the change, logged, in the caller's transaction; called only
        after ``fingerprint`` matched ``request.base`` under lock."""
        ...


# --- The sharing agreement -----------------------------------------------------------


def _day(value: str | None) -> str:
    if not value:
        return str(_("without an end date"))
    return str(formats.date_format(datetime.date.fromisoformat(value), "DATE_FORMAT"))


def _iso(day: datetime.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def agreement_payload(
    agreement: SharingAgreement,
    current: Mapping[tuple[int, str], str],
    change: agreements.AgreementChange,
) -> dict[str, Any]:
    """The payload of a pending edit of ``agreement``: each cell and date with
    its value when proposed ("from") and the one asked for ("to")."""
    payload: dict[str, Any] = {
        "agreement": agreement.pk,
        "cells": [
            {
                "organisation": org,
                "category": cat,
                "from": current.get((org, cat), agreements.NO_ACCESS),
                "to": access,
            }
            for (org, cat), access in sorted(change.cells.items())
        ],
    }
    if change.valid_from is not None:
        payload["valid_from"] = {
            "from": agreement.valid_from.isoformat(),
            "to": change.valid_from.isoformat(),
        }
    if change.valid_until is not agreements.UNCHANGED:
        assert change.valid_until is None or isinstance(change.valid_until, datetime.date)
        payload["valid_until"] = {
            "from": _iso(agreement.valid_until),
            "to": _iso(change.valid_until),
        }
    return payload


def agreement_change_of(payload: Mapping[str, Any]) -> agreements.AgreementChange:
    change = agreements.AgreementChange(
        cells={(int(c["organisation"]), str(c["category"])): str(c["to"]) for c in payload["cells"]}
    )
    if "valid_from" in payload:
        change.valid_from = datetime.date.fromisoformat(payload["valid_from"]["to"])
    if "valid_until" in payload:
        end = payload["valid_until"]["to"]
        change.valid_until = datetime.date.fromisoformat(end) if end else None
    return change


class AgreementEdit:
    """An edit of a partnership's sharing agreement: cells gained or raised,
    the period started earlier or ended later (and whatever narrowing was
    kept with it, see ``agreement_change_split``)."""

    key: str = "agreement"
    label: StrOrPromise = _("Sharing agreement")
    stale_message: StrOrPromise = _(
        "This change can no longer be approved: the agreement was changed after it "
        "was proposed. It is marked as superseded; propose the change again if it "
        "is still needed."
    )

    def describe(self, request: AccessChangeRequest) -> Description:
        payload = request.payload
        agreement = SharingAgreement.objects.filter(pk=payload["agreement"]).first()
        names = dict(
            Organisation.objects.filter(
                pk__in={c["organisation"] for c in payload["cells"]}
            ).values_list("pk", "name")
        )
        categories = dict(Category.choices)
        lines = [
            DiffLine(
                subject=names.get(c["organisation"], f"#{c['organisation']}"),
                what=str(categories.get(c["category"], c["category"])),
                before=str(ACCESS_LABELS.get(c["from"], c["from"])),
                after=str(ACCESS_LABELS.get(c["to"], c["to"])),
                widens=agreements._RANK.get(c["to"], 0) > agreements._RANK.get(c["from"], 0),
            )
            for c in payload["cells"]
        ]
        never = "9999-12-31"
        for name, what in (("valid_from", _("valid from")), ("valid_until", _("valid until"))):
            if name in payload:
                before, after = payload[name]["from"], payload[name]["to"]
                if name == "valid_from":
                    widens = after < before
                else:
                    widens = (after or never) > (before or never)
                lines.append(
                    DiffLine(
                        subject=str(_("Period")),
                        what=str(what),
                        before=_day(before),
                        after=_day(after),
                        widens=widens,
                    )
                )
        if agreement is None:
            return Description(title=f"#{payload['agreement']}", lines=lines)
        start = _day(agreement.valid_from.isoformat())
        period = (
            str(_("from %(start)s until %(end)s"))
            % {"start": start, "end": _day(agreement.valid_until.isoformat())}
            if agreement.valid_until
            else str(_("from %(start)s, without an end date")) % {"start": start}
        )
        facts = [
            (str(_("Legal basis")), str(agreement.get_legal_basis_display())),
            (str(_("Legal reference")), agreement.legal_reference),
            (str(_("Valid now")), period),
        ]
        return Description(title=agreement.title, lines=lines, facts=facts)

    def summary(self, payload: Mapping[str, Any]) -> str:
        cells = len(payload.get("cells", []))
        parts = []
        if cells:
            parts.append(
                ngettext("%(count)d cell of the grid", "%(count)d cells of the grid", cells)
                % {"count": cells}
            )
        if "valid_from" in payload or "valid_until" in payload:
            parts.append(str(_("the period")))
        return ", ".join(parts)

    def fingerprint(self, request: AccessChangeRequest, *, lock: bool) -> str:
        agreement_id = int(request.payload["agreement"])
        if lock:
            agreement = agreements.agreement_lock(agreement_id)
        else:
            found = SharingAgreement.objects.filter(pk=agreement_id).first()
            if found is None:
                return ""
            agreement = found
        return agreements.agreement_digest(agreement)

    def apply(self, *, actor: User, request: AccessChangeRequest) -> None:
        agreement = agreements.agreement_lock(int(request.payload["agreement"]))
        agreements.agreement_apply(
            actor=actor,
            agreement=agreement,
            change=agreement_change_of(request.payload),
            access_change=request.pk,
        )


# --- A bulk import of organisations and accounts -------------------------------------


class Import:
    """An import of organisations and accounts (``prepare.administration.imports``):
    for the whole installation (no partnership). Its payload holds the rows to
    create; its fingerprint is the digest of what the database holds under the
    names and e-mail addresses it names."""

    key: str = "import"
    label: StrOrPromise = _("Import of organisations and accounts")
    stale_message: StrOrPromise = _(
        "This import can no longer be approved: an organisation or account it names was "
        "created or changed after it was proposed. It is marked as superseded; import the "
        "file again if it is still needed."
    )

    def describe(self, request: AccessChangeRequest) -> Description:
        payload = request.payload
        types = dict(OrganisationType.choices)
        roles = dict(Role.choices)
        new = str(_("not in PREPARE"))
        lines = [
            DiffLine(
                subject=row["name"],
                what=str(_("New organisation")),
                before=new,
                after=", ".join(
                    str(part)
                    for part in (types.get(row["type"], row["type"]), row["city"], row["country"])
                    if part
                ),
                widens=True,
            )
            for row in payload.get("organisations", [])
        ]
        for row in payload.get("accounts", []):
            name = " ".join(p for p in (row["first_name"], row["last_name"]) if p)
            after = str(roles.get(row["role"], row["role"]))
            if row.get("manages_accounts"):
                after = str(_("%(role)s, manages accounts")) % {"role": after}
            lines.append(
                DiffLine(
                    subject=f"{name} <{row['email']}>" if name else row["email"],
                    what=str(_("New account at %(organisation)s"))
                    % {"organisation": row["organisation"]},
                    before=new,
                    after=after,
                    widens=True,
                )
            )
        facts = [
            (str(_("Files")), ", ".join(payload.get("files", []))),
            (str(_("Rows already in PREPARE (skipped)")), str(payload.get("skipped", 0))),
        ]
        return Description(title=self.summary(payload), lines=lines, facts=facts)

    def summary(self, payload: Mapping[str, Any]) -> str:
        organisations = len(payload.get("organisations", []))
        accounts = len(payload.get("accounts", []))
        return str(_("Import: %(organisations)s and %(accounts)s")) % {
            "organisations": ngettext(
                "%(count)d organisation", "%(count)d organisations", organisations
            )
            % {"count": organisations},
            "accounts": ngettext("%(count)d account", "%(count)d accounts", accounts)
            % {"count": accounts},
        }

    def fingerprint(self, request: AccessChangeRequest, *, lock: bool) -> str:
        from prepare.administration.imports import import_fingerprint

        return import_fingerprint(request.payload, lock=lock)

    def apply(self, *, actor: User, request: AccessChangeRequest) -> None:
        from prepare.administration.imports import import_apply

        import_apply(actor=actor, request=request)


KINDS: dict[str, AccessChangeKind] = {kind.key: kind for kind in (AgreementEdit(), Import())}


def kind_of(request: AccessChangeRequest) -> AccessChangeKind:
    return KINDS[request.kind]
