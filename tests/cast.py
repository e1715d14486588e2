"""The fixed cast of test actors, reused by every test (see STYLE.md).

One partnership, Rotterdam-like: the municipality coordinates; probation,
police and an exit NGO are members; an outsider belongs to another
partnership. One case, K, whose team is probation (whole organisation), one
named police officer and the NGO. Every category of K holds a note whose
text is ``sentinel(category)`` and a document whose title and file hold it too
(``document_sentinel``), and whose earlier file does as well (``earlier_sentinel``),
so that leak tests can search responses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.contrib.auth import SESSION_KEY
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from prepare.access.categories import Action, Category
from prepare.access.grants import case_grants_rebuild
from prepare.accounts.models import Organisation, OrganisationType, Role, User
from prepare.cases.models import Case, CaseNote, CaseStatus, CaseTeamMember, NoteKind
from prepare.documents.models import Document
from prepare.partnerships.models import Partnership, SharingAgreement
from tests.factories import (
    AgreementFactory,
    CategoryGrantFactory,
    MembershipFactory,
    OrganisationFactory,
    PartnershipFactory,
    PersonFactory,
    UserFactory,
)

ALL = list(Category.values)
R, W = Action.READ, Action.WRITE

# The agreement of the cast's partnership: organisation -> {category: access}.
AGREEMENT: dict[str, dict[str, str]] = {
    "municipality": {c: W for c in ALL if c != Category.INTELLIGENCE},
    "probation": {
        Category.IDENTITY: W,
        Category.JUSTICE: W,
        Category.RISK: W,
        Category.SOCIAL: W,
        Category.INTERVENTIONS: W,
        Category.MEETINGS: W,
        Category.HEALTH: R,
    },
    "police": {
        Category.IDENTITY: R,
        Category.JUSTICE: R,
        Category.RISK: W,
        Category.INTELLIGENCE: W,
        Category.MEETINGS: R,
    },
    "ngo": {Category.INTERVENTIONS: W, Category.SOCIAL: R},
}


def sentinel(category: str) -> str:
    return f"SENTINEL-{category.upper()}-7f3a"


@dataclass
class Cast:
    partnership: Partnership
    other_partnership: Partnership
    agreement: SharingAgreement
    orgs: dict[str, Organisation]
    case: Case
    other_case: Case
    notes: dict[str, CaseNote]
    # One document per category on K (a text file), titled with the sentinel.
    documents: dict[str, Document]
    coordinator: User
    case_manager: User
    police_on_team: User
    police_off_team: User
    ngo_mentor: User
    auditor: User
    trainer: User
    outsider: User
    actors: dict[str, User] = field(default_factory=dict)


def build_cast() -> Cast:
    municipality = OrganisationFactory(
        name="City of Testdam", type=OrganisationType.LOCAL_AUTHORITY
    )
    probation = OrganisationFactory(name="Probation Testdam", type=OrganisationType.PROBATION)
    police = OrganisationFactory(name="Police Testdam", type=OrganisationType.POLICE)
    ngo = OrganisationFactory(name="Exit Testdam", type=OrganisationType.EXIT_NGO)
    elsewhere = OrganisationFactory(name="City of Elsewhere", type=OrganisationType.LOCAL_AUTHORITY)
    orgs = {
        "municipality": municipality,
        "probation": probation,
        "police": police,
        "ngo": ngo,
        "elsewhere": elsewhere,
    }

    partnership = PartnershipFactory(
        name="Testdam partnership", code="TST", coordinating_organisation=municipality
    )
    other = PartnershipFactory(
        name="Elsewhere partnership", code="ELS", coordinating_organisation=elsewhere
    )
    for key in ("municipality", "probation", "police", "ngo"):
        MembershipFactory(partnership=partnership, organisation=orgs[key])
    MembershipFactory(partnership=other, organisation=elsewhere)
    agreement = AgreementFactory(partnership=partnership)
    for key, cells in AGREEMENT.items():
        for category, access in cells.items():
            CategoryGrantFactory(
                agreement=agreement, organisation=orgs[key], category=category, access=access
            )
    other_agreement = AgreementFactory(partnership=other)
    for category in ALL:
        CategoryGrantFactory(
            agreement=other_agreement, organisation=elsewhere, category=category, access=W
        )

    coordinator = UserFactory(
        username="coordinator", organisation=municipality, role=Role.COORDINATOR
    )
    case_manager = UserFactory(
        username="case_manager", organisation=probation, role=Role.CASE_MANAGER
    )
    police_on = UserFactory(username="police_on_team", organisation=police, role=Role.PRACTITIONER)
    police_off = UserFactory(
        username="police_off_team", organisation=police, role=Role.PRACTITIONER
    )
    mentor = UserFactory(username="ngo_mentor", organisation=ngo, role=Role.PRACTITIONER)
    auditor = UserFactory(username="auditor", organisation=municipality, role=Role.AUDITOR)
    trainer = UserFactory(username="trainer", organisation=municipality, role=Role.TRAINER)
    outsider = UserFactory(username="outsider", organisation=elsewhere, role=Role.COORDINATOR)

    case = Case.objects.create(
        person=PersonFactory(given_name="Sentinelia", family_name="Identitas"),
        partnership=partnership,
        reference="TST-2026-0001",
        status=CaseStatus.PRE_RELEASE,
    )
    CaseTeamMember.objects.create(case=case, organisation=probation, purpose="Supervision")
    CaseTeamMember.objects.create(case=case, organisation=police, user=police_on, purpose="Risk")
    CaseTeamMember.objects.create(case=case, organisation=ngo, purpose="Exit programme")
    case_grants_rebuild(case)
    notes = {
        category: CaseNote.objects.create(
            case=case,
            category=category,
            kind=NoteKind.FACT,
            text=sentinel(category),
            created_by=coordinator,
            updated_by=coordinator,
        )
        for category in ALL
    }
    documents = {category: _document(case, category, municipality, coordinator) for category in ALL}
    other_case = Case.objects.create(
        person=PersonFactory(),
        partnership=other,
        reference="ELS-2026-0001",
        status=CaseStatus.COMMUNITY,
    )
    case_grants_rebuild(other_case)

    actors = {
        "coordinator": coordinator,
        "case_manager": case_manager,
        "police_on_team": police_on,
        "police_off_team": police_off,
        "ngo_mentor": mentor,
        "auditor": auditor,
        "trainer": trainer,
        "outsider": outsider,
    }
    return Cast(
        partnership=partnership,
        other_partnership=other,
        agreement=agreement,
        orgs=orgs,
        case=case,
        other_case=other_case,
        notes=notes,
        documents=documents,
        coordinator=coordinator,
        case_manager=case_manager,
        police_on_team=police_on,
        police_off_team=police_off,
        ngo_mentor=mentor,
        auditor=auditor,
        trainer=trainer,
        outsider=outsider,
        actors=actors,
    )


def document_sentinel(category: str) -> str:
    """The title of K's document in ``category``, and the text of its file."""
    return f"{sentinel(category)}-DOCUMENT"


def earlier_sentinel(category: str) -> str:
    """The text of the earlier file of K's document in ``category``."""
    return f"{document_sentinel(category)}-EARLIER"


def _document(case: Case, category: str, organisation: Organisation, author: User) -> Document:
    """A text document on ``case`` whose title and file are the category's sentinel,
    stored through the documents storage as an upload would be; its file was
    replaced once (version 2), so it has one earlier file, which holds the
    sentinel too (``earlier_sentinel``)."""
    from prepare.documents.content import clean_file
    from prepare.documents.models import DocumentVersion
    from prepare.documents.services import _store

    earlier, clean = (
        clean_file(earlier_sentinel(category).encode()),
        clean_file(document_sentinel(category).encode()),
    )
    document = Document.objects.create(
        case=case,
        category=category,
        title=document_sentinel(category),
        organisation=organisation,
        storage_name=_store(case.pk, clean),
        filename=f"{category}.txt",
        content_type=clean.content_type,
        size=len(clean.content),
        sha256=hashlib.sha256(clean.content).hexdigest(),
        created_by=author,
        updated_by=author,
        version=2,
    )
    DocumentVersion.objects.create(
        document=document,
        number=1,
        storage_name=_store(case.pk, earlier),
        filename=f"{category}-first.txt",
        content_type=earlier.content_type,
        size=len(earlier.content),
        sha256=hashlib.sha256(earlier.content).hexdigest(),
        attached_by=author,
        attached_at=document.created_at,
        replaced_by=author,
        replaced_at=document.created_at,
    )
    return document


def current_code(user: User) -> str:
    """The code the user's authenticator shows now (time-machine aware)."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def wrong_code(user: User) -> str:
    return f"{(int(current_code(user)) + 1) % 1_000_000:06d}"


def verified_client(user: User) -> Client:
    """A client whose session passed password and second factor."""
    client = Client()
    client.force_login(user, backend="prepare.accounts.backends.ActiveOrganisationBackend")
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    assert device is not None, "every test user has a TOTP device"
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    assert session[SESSION_KEY] == str(user.pk)
    session.save()
    return client
