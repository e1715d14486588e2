"""What each notification says: one table from message key to translatable text.

A notification stores a message key and its parameters, never its text
(``Notification.message_key``, ``Notification.params``). The text is
rendered when it is read, in the reader's language and format: on the page
(the signed-in user's language), in the API (the caller's) and in the e-mail
(the recipient's, ``User.language``). See the package docstring for how to
add a kind.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.utils import formats, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from prepare.accounts.models import Role
from prepare.moments import moment_text


@dataclass(frozen=True)
class Message:
    """A text with named parameters (``%(ref)s``); ``dates`` and ``moments`` name
    the parameters stored as ISO dates or instants, shown in the reader's format
    (an instant in the zone given by the parameter ``zone``, if any)."""

    text: Promise
    dates: tuple[str, ...] = ()
    moments: tuple[str, ...] = ()
    # Parameters stored as a choice's value (a role), shown as its label.
    choices: tuple[tuple[str, Any], ...] = ()
    # Parameters stored as a text in several languages ({"en": ..., "fr": ...},
    # an instrument's title), shown in the reader's.
    texts: tuple[str, ...] = ()


MESSAGES: dict[str, Message] = {
    # Reminders (prepare.notifications.reminders).
    "release_today": Message(_("Release of %(ref)s today (%(date)s)"), dates=("date",)),
    "release_in_days": Message(
        ngettext_lazy(
            "Release of %(ref)s in %(days)d day (%(date)s)",
            "Release of %(ref)s in %(days)d days (%(date)s)",
            "days",
        ),
        dates=("date",),
    ),
    "review_due": Message(_("Review of %(ref)s due on %(date)s"), dates=("date",)),
    "follow_up_6": Message(
        _("6-month follow-up review of %(ref)s is due (%(date)s)"), dates=("date",)
    ),
    "follow_up_12": Message(
        _("12-month follow-up review of %(ref)s is due (%(date)s)"), dates=("date",)
    ),
    "checklist_overdue": Message(
        _("Checklist item of %(ref)s is overdue (due %(date)s)"), dates=("date",)
    ),
    "checklist_due": Message(_("Checklist item of %(ref)s is due on %(date)s"), dates=("date",)),
    "signal_urgent": Message(_("Urgent signal on %(ref)s to acknowledge")),
    "signal_high": Message(_("High-severity signal on %(ref)s to acknowledge")),
    "signal_urgent_late": Message(_("Urgent signal on %(ref)s still not acknowledged")),
    "signal_high_late": Message(_("High-severity signal on %(ref)s still not acknowledged")),
    # Assessment reviews (prepare.notifications.reminders): the reference and the
    # instrument's title only, never what the assessment says.
    "assessment_review_due": Message(
        _("Assessment review of %(ref)s due on %(date)s: %(instrument)s"),
        dates=("date",),
        texts=("instrument",),
    ),
    "assessment_review_overdue": Message(
        _("Assessment review of %(ref)s overdue since %(date)s: %(instrument)s"),
        dates=("date",),
        texts=("instrument",),
    ),
    # Erasure on request (prepare.cases.retention.erasure).
    "erasure_to_approve": Message(_("Erasure of %(ref)s to approve")),
    # Transfers (prepare.notifications.transfers).
    "transfer_proposed": Message(_("%(partnership)s proposes to transfer case %(ref)s to you")),
    "transfer_accepted": Message(_("%(partnership)s accepted the transfer of case %(ref)s")),
    "transfer_declined": Message(_("%(partnership)s declined the transfer of case %(ref)s")),
    # Release planning (prepare.plans.services.owner_notices_update).
    "checklist_owner": Message(
        _("%(org)s owns a release-planning item of %(ref)s but cannot see the case")
    ),
    # Four eyes on what widens access (prepare.partnerships.access_changes).
    "access_change_to_approve": Message(
        _("A change of the sharing agreement of %(partnership)s widens access: to approve")
    ),
    "access_change_to_approve_site": Message(_("A change that widens access, to approve")),
    # Break-glass (prepare.cases.services).
    "break_glass": Message(_("Emergency access to %(ref)s by %(user)s, to review")),
    # Changes to the reader's own account (prepare.accounts.staff).
    "account_role_changed": Message(
        _("Your role in PREPARE is now %(role)s."), choices=(("role", Role),)
    ),
    "account_organisation_changed": Message(
        _("Your PREPARE account now belongs to %(organisation)s.")
    ),
    "account_manager_granted": Message(
        _("You may now manage the accounts of %(organisation)s in PREPARE.")
    ),
    "account_manager_withdrawn": Message(
        _("You no longer manage the accounts of %(organisation)s in PREPARE.")
    ),
    "account_deactivated": Message(_("Your PREPARE account was deactivated.")),
    "account_reactivated": Message(_("Your PREPARE account is active again.")),
}


def _in_language(texts: dict[str, Any]) -> str:
    """A text of several languages in the active one, else English, else any."""
    wanted = translation.get_language() or ""
    for code in (wanted, wanted.split("-")[0], "en"):
        if code and isinstance(texts.get(code), str):
            return str(texts[code])
    return next((str(v) for v in texts.values() if isinstance(v, str)), "")


def _shown(name: str, value: Any, message: Message, params: dict[str, Any]) -> Any:
    if name in message.texts:
        return _in_language(value) if isinstance(value, dict) else value
    choices = dict(message.choices).get(name)
    if choices is not None:
        try:
            return choices(value).label
        except ValueError:
            return value
    if name in message.dates and isinstance(value, str):
        try:
            return formats.date_format(datetime.date.fromisoformat(value), "DATE_FORMAT")
        except ValueError:
            return value
    if name in message.moments and isinstance(value, str):
        try:
            return moment_text(datetime.datetime.fromisoformat(value), params.get("zone"))
        except ValueError:
            return value
    return value


def render_message(key: str, params: dict[str, Any] | None, fallback: str = "") -> str:
    """The text of a notification in the active language; ``fallback`` (the stored
    text of a row from before message keys) for an unknown key or bad parameters."""
    message = MESSAGES.get(key)
    if message is None:
        return fallback
    params = dict(params or {})
    shown = {name: _shown(name, value, message, params) for name, value in params.items()}
    try:
        return str(message.text % shown)
    except (KeyError, TypeError, ValueError):
        return fallback or key
