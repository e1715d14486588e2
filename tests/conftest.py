import pytest

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
