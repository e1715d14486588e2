"""Stamping the records handed over before the stamp existed (for migrations).

``CaseRecord.handed_over_by`` names the accepted transfer that last handed a
record over (decision 0012). For records handed over before the column
existed, the stamp is inferred from the time each record was written: a
record its case's receiver holds in a category that transfer handed over,
written strictly before the acceptance. Key dates have no creation time: their
last change stands for it. A record left unstamped is only hidden from the old
team's grace; never the other way round.
"""

from __future__ import annotations

from typing import Any

# The column saying when a row of each kind of record was written, in order of
# preference (the first the model has).
WRITTEN_FIELDS = ("created_at", "proposed_at", "at", "replaced_at", "corrected_at", "decided_at")
FALLBACK_FIELD = "updated_at"


def stamp_handed_over(apps: Any, app_label: str) -> None:
    """Stamp the records of ``app_label``'s record models, transfer by transfer
    in the order they were accepted (a later handover restamps)."""
    transfer_model = apps.get_model("cases", "Transfer")
    transfers = list(
        transfer_model.objects.filter(status="accepted", decided_at__isnull=False)
        .order_by("decided_at", "pk")
        .values("pk", "case_id", "to_partnership_id", "categories", "decided_at")
    )
    if not transfers:
        return
    for model in apps.get_app_config(app_label).get_models():
        names = {f.name for f in model._meta.concrete_fields}
        if "handed_over_by" not in names:
            continue
        written = next((f for f in (*WRITTEN_FIELDS, FALLBACK_FIELD) if f in names), None)
        if written is None:
            continue
        for t in transfers:
            model._default_manager.filter(
                case_id=t["case_id"],
                partnership_id=t["to_partnership_id"],
                category__in=list(t["categories"] or []),
                **{f"{written}__lt": t["decided_at"]},
            ).update(handed_over_by_id=t["pk"])
