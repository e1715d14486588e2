"""A code used by one request cannot be replayed by a concurrent one (AU-01)."""

from __future__ import annotations

import datetime
import threading

import pytest
import time_machine
from django.db import connections, transaction
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from prepare.audit.models import Event, EventAction
from tests.accounts.conftest import current_code, post_sign_in
from tests.factories import UserFactory

T0 = datetime.datetime(2026, 3, 2, 9, 0, 0, tzinfo=datetime.UTC)


@pytest.mark.django_db(transaction=True)
@time_machine.travel(T0, tick=False)
def test_a_code_being_used_cannot_be_used_concurrently(flushable_audit):
    user = UserFactory(username="dora")
    code = current_code(user)
    statuses: list[int] = []

    def second_request() -> None:
        try:
            statuses.append(post_sign_in(Client(), "dora", code=code).status_code)
        finally:
            connections.close_all()

    with transaction.atomic():
        # The first request holds the device and has just accepted the code.
        device = TOTPDevice.objects.select_for_update().get(user=user)
        assert device.verify_token(code)
        racer = threading.Thread(target=second_request)
        racer.start()
        # Give the second request time to reach the device: it must wait for
        # this transaction rather than read the old state.
        racer.join(timeout=1.0)
    racer.join(timeout=60)
    assert not racer.is_alive()

    assert statuses == [200]  # refused: the sign-in page again
    failed = Event.objects.get(action=EventAction.LOGIN_FAILED)
    assert failed.detail["stage"] == "code"
    assert not Event.objects.filter(action=EventAction.LOGIN).exists()
