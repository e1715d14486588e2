"""The demo's published password and secrets never reach a real installation."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from prepare.accounts.models import User
from prepare.audit.models import Event
from prepare.cases.models import Case


def test_demo_refuses_to_run_outside_demo_mode(settings, db):
    settings.DEMO = False

    with pytest.raises(CommandError, match="demo mode"):
        call_command("demo", "--no-serve", stdout=io.StringIO())

    assert not User.objects.exists()
    assert not Case.objects.exists()
    assert not Event.objects.exists()
