"""Structured-judgement instruments, held as data, one row per loaded version.

A version's content never changes once stored: an assessment pins the
version it was made with, for ever (decision 0027).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from prepare.access.categories import Category


class Instrument(models.Model):
    identifier = models.SlugField(_("identifier"), max_length=64, unique=True)
    # The category of information its assessments hold; part of the instrument.
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["identifier"]
        verbose_name = _("instrument")
        verbose_name_plural = _("instruments")

    def __str__(self) -> str:
        return self.identifier


class InstrumentVersion(models.Model):
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(_("version"), max_length=32)
    # The canonical content (validation.canonical) and the SHA-256 of its canonical JSON.
    content = models.JSONField(_("content"))
    content_hash = models.CharField(_("content hash"), max_length=64)
    loaded_at = models.DateTimeField(_("loaded at"), auto_now_add=True)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["instrument_id", "loaded_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "version"], name="assessments_one_content_per_version"
            )
        ]
        verbose_name = _("instrument version")
        verbose_name_plural = _("instrument versions")

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.version}"
