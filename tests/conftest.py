import pytest

from tests.access.support import flushable_audit  # noqa: F401  (used by name below)
from tests.cast import Cast, build_cast, verified_client


@pytest.fixture
def cast(db) -> Cast:
    return build_cast()


@pytest.fixture
def as_user(client):
    """``as_user(user)`` -> a test client signed in with a second factor."""

    def make(user):
        return verified_client(user)

    return make


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Argon2 is the production hasher (tests/test_settings.py checks it); the
    # suite signs in thousands of times and uses a fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _audit_table_flushable(request):
    """Transactional tests end with a flush of every table, which the audit
    table's append-only triggers refuse: switch them off for that flush only."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or any(
        name in request.fixturenames for name in ("transactional_db", "live_server")
    )
    if transactional:
        request.getfixturevalue("flushable_audit")


@pytest.fixture(autouse=True)
def _default_language():
    """Requests activate the user's language for the thread; start each test in English."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.activate("en")
