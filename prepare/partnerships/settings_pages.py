"""A partnership's settings page: members read the settings; only a coordinator
changes them. A save names the settings it was read with (the form's hidden
``current``), so that two coordinators cannot overwrite each other unseen: a
missing one answers 428, a stale one 409 with the settings as they are now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import Promise

from prepare.access.errors import NotVisible, WriteForbidden
from prepare.access.policy import coordinates, member_partnership_ids
from prepare.locking import StaleVersion, VersionRequired
from prepare.partnerships.models import Partnership
from prepare.web import request_actor


@dataclass(frozen=True)
class SettingsPage:
    """One group of a partnership's settings, as a page."""

    form_class: type[forms.Form]
    template: str
    url_name: str
    # The form's initial values, ``current`` included.
    initial: Callable[[Partnership], dict[str, Any]]
    # Saves the cleaned form for the actor: whether anything changed.
    save: Callable[[Any, Partnership, dict[str, Any]], bool]
    saved: str | Promise
    unchanged: str | Promise


def partnership_for_settings(request: HttpRequest, pk: int) -> tuple[Partnership, bool]:
    """The partnership if the actor's organisation is in it (else 404), and
    whether the actor coordinates it."""
    actor = request_actor(request)
    if pk not in member_partnership_ids(actor):
        raise NotVisible
    partnership = Partnership.objects.filter(pk=pk).first()
    if partnership is None:
        raise NotVisible
    return partnership, coordinates(actor, pk)


def settings_page(page: SettingsPage, request: HttpRequest, pk: int) -> HttpResponse:
    partnership, can_edit = partnership_for_settings(request, pk)
    context: dict[str, object] = {"partnership": partnership, "can_edit": can_edit}
    if request.method == "GET":
        form = page.form_class(initial=page.initial(partnership))
        return render(request, page.template, {**context, "form": form})
    if not can_edit:
        raise PermissionDenied
    form = page.form_class(request.POST)
    status = 422
    if form.is_valid():
        try:
            changed = page.save(request_actor(request), partnership, form.cleaned_data)
        except WriteForbidden as exc:
            raise PermissionDenied from exc
        except (StaleVersion, VersionRequired) as exc:
            status = 409 if isinstance(exc, StaleVersion) else 428
            partnership.refresh_from_db()
            form = page.form_class(initial=page.initial(partnership))
            context["problem"] = str(exc.message)
        except ValidationError as exc:
            for name, errors in getattr(exc, "error_dict", {None: exc.error_list}).items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            if changed:
                messages.success(request, str(page.saved))
            else:
                messages.info(request, str(page.unchanged))
            return redirect(page.url_name, partnership.pk)
    return render(request, page.template, {**context, "form": form}, status=status)
