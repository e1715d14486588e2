"""REST API v1 for the lifecycle: referrals, status moves, key dates and triage."""

from prepare.cases.lifecycle.api import lifecycle, triage

urlpatterns = [*lifecycle.urlpatterns, *triage.urlpatterns]
