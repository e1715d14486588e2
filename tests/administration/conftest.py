from __future__ import annotations

import pytest

from prepare.accounts.models import Role, User
from tests.cast import Cast
from tests.factories import UserFactory


@pytest.fixture
def admin(cast: Cast) -> User:
    """The installation's administrator: no organisation, reads no case."""
    user: User = UserFactory(username="admin", organisation=None, role=Role.ADMINISTRATOR)
    return user
