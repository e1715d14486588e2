"""REST API v1 for release planning: checklists and the release board, what the
caller owes, and the partnership's checklist template."""

from prepare.plans.api import checklists, tasks, templates

urlpatterns = [*checklists.urlpatterns, *tasks.urlpatterns, *templates.urlpatterns]
