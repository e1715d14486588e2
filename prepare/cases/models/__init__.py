"""The case domain's models, split by topic; import them from here."""

from prepare.cases.models.core import (
    ENDED_STATUSES,
    Case,
    CaseNote,
    CaseNoteVersion,
    CaseOutcome,
    CaseQuerySet,
    CaseStatus,
    CaseTeamMember,
    DataSubjectCategory,
    NoteKind,
    Person,
    TeamMemberQuerySet,
)
from prepare.cases.models.lifecycle import (
    CaseTransition,
    ClosureDecision,
    ClosureProposal,
    KeyDate,
    KeyDateKind,
    Referral,
    ReferrerType,
    TriageDecision,
    TriageOutcome,
)
from prepare.cases.models.records import (
    CaseRecord,
    CaseRecordQuerySet,
    VersionedCaseRecord,
    handover_stamp,
)
from prepare.cases.models.retention import ErasureRequest, ErasureStatus, LegalHold
from prepare.cases.models.transfer import Transfer, TransferGrace, TransferStatus

__all__ = [
    "ENDED_STATUSES",
    "Case",
    "CaseNote",
    "CaseNoteVersion",
    "CaseOutcome",
    "CaseQuerySet",
    "CaseRecord",
    "CaseRecordQuerySet",
    "CaseStatus",
    "CaseTeamMember",
    "CaseTransition",
    "ClosureDecision",
    "ClosureProposal",
    "DataSubjectCategory",
    "ErasureRequest",
    "ErasureStatus",
    "KeyDate",
    "KeyDateKind",
    "LegalHold",
    "NoteKind",
    "Person",
    "Referral",
    "ReferrerType",
    "TeamMemberQuerySet",
    "Transfer",
    "TransferGrace",
    "TransferStatus",
    "TriageDecision",
    "TriageOutcome",
    "VersionedCaseRecord",
    "handover_stamp",
]
