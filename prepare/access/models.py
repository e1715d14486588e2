"""Tables the policy keeps for itself: the case grant index and break-glass."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# The columns the policy filters a caseload on (``caseload_grants``).
REACH_COLUMNS = [
    "partnership",
    "status",
    "coordination",
    "whole_organisation",
    "named_users",
    "ends_on",
]


# What a grant row records about its case: a rebuild must give the same.
GRANT_FACTS = (
    "organisation_id",
    "partnership_id",
    "status",
    "sort_key",
    "coordination",
    "whole_organisation",
    "named_users",
    "ends_on",
    "release_on",
    "reference",
)


class CaseGrant(models.Model):
    """One row per (case, organisation) that may reach the case.

    Maintained by ``prepare.access.grants`` whenever a case, its team or its
    partnership changes. Caseloads read it in (organisation, -sort key) order,
    so a page is one index range scan however many cases exist.
    """

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="+"
    )
    partnership = models.ForeignKey(
        "partnerships.Partnership", on_delete=models.CASCADE, related_name="+"
    )
    # Copies of the case's fields, so that lists filter and sort on this index.
    status = models.CharField(max_length=16)
    sort_key = models.DateTimeField()
    # Why the organisation reaches the case.
    coordination = models.BooleanField(default=False)
    whole_organisation = models.BooleanField(default=False)
    named_users = models.BooleanField(default=False)
    # Latest end date of the organisation-wide team entry (None: open-ended).
    ends_on = models.DateField(null=True, blank=True)
    # The case's expected release date, so that the release board reads the
    # organisation's rows in date order instead of every release in the window.
    release_on = models.DateField(null=True, blank=True)
    # The case's reference, so that a caseload sorted by reference is one range
    # scan of (organisation, reference, case) too.
    reference = models.CharField(max_length=32, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "organisation"], name="case_grant_unique"),
        ]
        indexes = [
            # Covering (PostgreSQL): the reach filters are read from the index
            # itself, so a page and its capped total are one index-only scan
            # that stops after the cap, however many rows the organisation has.
            models.Index(
                fields=["organisation", "-sort_key", "case"],
                name="case_grant_caseload",
                include=REACH_COLUMNS,
            ),
            models.Index(
                fields=["organisation", "reference", "case"],
                name="case_grant_by_reference",
                include=REACH_COLUMNS,
            ),
            models.Index(
                fields=["organisation", "release_on", "case"],
                name="case_grant_releases",
                condition=models.Q(release_on__isnull=False),
                include=REACH_COLUMNS,
            ),
        ]

    def __str__(self) -> str:
        return f"case {self.case_id} / organisation {self.organisation_id}"


class BreakGlassAccess(models.Model):
    """Emergency read access to a case the user is not teamed on."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    justification = models.TextField(_("justification"), max_length=2000)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires at"))
    # The data-protection officer's review, after the fact.
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("reviewed by"),
    )
    review_comment = models.TextField(_("review comment"), max_length=2000, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "case", "expires_at"]),
            # The daily cap counts one user's accesses since midnight.
            models.Index(fields=["user", "created_at"], name="break_glass_user_day"),
        ]
        verbose_name = _("break-glass access")
        verbose_name_plural = _("break-glass accesses")

    def __str__(self) -> str:
        return f"break-glass {self.user_id} on case {self.case_id}"
