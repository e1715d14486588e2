import pytest

from tests.cast import Cast
from tests.monitoring.support import name_for_escalation


@pytest.fixture
def escalating(cast: Cast) -> Cast:
    """The cast with the police named for escalation."""
    name_for_escalation(cast, "police")
    return cast
