"""The categories of case information: every record carries exactly one."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Category(models.TextChoices):
    IDENTITY = "identity", _("Identity")
    JUSTICE = "justice", _("Justice")
    RISK = "risk", _("Risk")
    IDEOLOGY = "ideology", _("Ideology and affiliations")
    HEALTH = "health", _("Health")
    SOCIAL = "social", _("Social situation")
    INTERVENTIONS = "interventions", _("Interventions")
    MEETINGS = "meetings", _("Meetings")
    INTELLIGENCE = "intelligence", _("Intelligence")


class Action(models.TextChoices):
    READ = "read", _("Read")
    WRITE = "write", _("Read and write")
