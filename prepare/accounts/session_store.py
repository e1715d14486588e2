"""Django's database sessions, each row also naming its signed-in user.

The user's id is copied from the session's data whenever the session is
saved, so that ``credentials_end`` finds a user's sessions with one indexed
query (Django's own table would have to be read and decoded whole).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    @classmethod
    def get_model_class(cls) -> Any:
        from prepare.accounts.models import StoredSession

        return StoredSession

    def create_model_instance(self, data: dict[str, Any]) -> Any:
        stored: Any = super().create_model_instance(data)
        try:
            stored.user_id = int(data.get(SESSION_KEY) or 0) or None
        except (TypeError, ValueError):
            stored.user_id = None
        return stored
