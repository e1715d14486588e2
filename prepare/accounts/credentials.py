"""A person's sessions and API tokens: the registry of sessions, and ending them.

``credentials_end`` is the one way to end a user's sessions and revoke their
tokens; password and second-factor changes, deactivation of a user or of an
organisation, and administrators all go through it. It writes no audit event
of its own: it is a step of the caller's service, whose one event records the
counts it returns.

The registry (``SignedInSession``) holds a digest of each session key, never
the key. The session store (``StoredSession``) names each session's user, so
that ending them is one indexed DELETE.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from prepare.accounts.addresses import approximate_address, client_address, device_of
from prepare.accounts.models import (
    ApiToken,
    RevokedBecause,
    SignedInSession,
    StoredSession,
    User,
)


@dataclass(frozen=True)
class CredentialsEnded:
    sessions: int
    tokens: int


def _session_key(request: HttpRequest) -> str:
    if request.session.session_key is None:
        request.session.save()
    return str(request.session.session_key)


def _where(request: HttpRequest) -> dict[str, str]:
    browser, system = device_of(str(request.META.get("HTTP_USER_AGENT", ""))[:512])
    return {
        "network": approximate_address(client_address(request)),
        "browser": browser,
        "system": system,
    }


def session_register(request: HttpRequest, *, user: User) -> SignedInSession:
    """Record the session that just signed in (its key is new: see ``login``)."""
    now = timezone.now()
    row, _created = SignedInSession.objects.update_or_create(
        key_digest=SignedInSession.digest_of(_session_key(request)),
        defaults={"user": user, "last_seen_at": now, **_where(request)},
        create_defaults={"user": user, "created_at": now, "last_seen_at": now, **_where(request)},
    )
    return row


def session_seen(request: HttpRequest) -> None:
    """The session is in use (called at most once a minute per session by the
    middleware). A session that signed in before the registry existed, or by
    another way than the sign-in page, is registered here."""
    user = request.user
    if not isinstance(user, User):
        return
    digest = SignedInSession.digest_of(_session_key(request))
    now = timezone.now()
    where = _where(request)
    updated = SignedInSession.objects.filter(key_digest=digest, user=user).update(
        last_seen_at=now, **where
    )
    if not updated:
        SignedInSession.objects.get_or_create(
            key_digest=digest,
            defaults={"user": user, "created_at": now, "last_seen_at": now, **where},
        )


def session_forget(session_key: str | None) -> None:
    """The session ended (sign-out, time-out): drop its registry row."""
    if session_key:
        SignedInSession.objects.filter(key_digest=SignedInSession.digest_of(session_key)).delete()


def session_rekeyed(*, old_key: str | None, new_key: str | None) -> None:
    """The session got a new key (``cycle_key``): its row follows it."""
    if old_key and new_key and old_key != new_key:
        SignedInSession.objects.filter(key_digest=SignedInSession.digest_of(old_key)).update(
            key_digest=SignedInSession.digest_of(new_key)
        )


def live_digests(user_id: int) -> dict[str, str]:
    """Digest -> key of the user's sessions that are still in the store and unexpired."""
    keys = StoredSession.objects.filter(user_id=user_id, expire_date__gt=timezone.now())
    return {
        SignedInSession.digest_of(key): key for key in keys.values_list("session_key", flat=True)
    }


def idle_horizon() -> datetime.datetime:
    """Sessions last seen before this are over (the idle time-out, plus the
    minute by which ``last_seen_at`` may lag)."""
    return timezone.now() - datetime.timedelta(seconds=settings.SESSION_IDLE_TIMEOUT + 60)


def credentials_end(
    *,
    user: User,
    reason: str,
    keep_session_key: str | None = None,
    sessions: bool = True,
    tokens: bool = True,
) -> CredentialsEnded:
    """End the user's sessions (all but ``keep_session_key``) and revoke their
    API tokens; in the caller's transaction. Each ended session's next request
    finds no session (signed out); each revoked token answers 401.

    ``reason`` is a ``RevokedBecause`` value. For a changed password the
    person is told by e-mail, after the commit, in their language (a changed
    second factor is told by ``factors.factor_changed``).
    The caller audits, with the counts returned.
    """
    ended = revoked = 0
    if sessions:
        stored = StoredSession.objects.filter(user=user)
        registry = SignedInSession.objects.filter(user=user)
        if keep_session_key:
            stored = stored.exclude(session_key=keep_session_key)
            registry = registry.exclude(key_digest=SignedInSession.digest_of(keep_session_key))
        ended = stored.delete()[0]
        registry.delete()
    if tokens:
        revoked = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_because=reason
        )
    if reason == RevokedBecause.PASSWORD_CHANGE:
        # A factor change is told by ``factors.factor_changed``, which says which.
        _tell_credentials_changed(user)
    return CredentialsEnded(sessions=ended, tokens=revoked)


def _tell_credentials_changed(user: User) -> None:
    """One mail, after the commit, in the person's language: the password
    changed, and what to do if it was not them. No link, nothing about the new
    password."""
    if not user.email:
        return
    email, language = user.email, user.language or settings.LANGUAGE_CODE

    def send() -> None:
        with translation.override(language):
            subject = _("PREPARE: your password was changed")
            body = "\n\n".join(
                [
                    _("The password of your PREPARE account was changed."),
                    _(
                        "Your other sessions were ended and your API tokens revoked; "
                        "sign in again where you need to, and create new tokens."
                    ),
                    _(
                        "If you did not make this change, tell your administrator at once: "
                        "someone else may know your password."
                    ),
                ]
            )
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])

    transaction.on_commit(send)
