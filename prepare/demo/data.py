"""The demo's fictional world: three partnerships inspired by the PREPARE pilots.

Organisations are modelled on the kinds of bodies that took part in Rotterdam,
Catalonia and Vilvoorde; the NGOs carry invented names. Every person, member
of staff and note is invented. Nothing here is real case material.

Each organisation has a short key (``probation``, ``police``, ``exit`` ...)
that the sharing-agreement grid, the demo users and the case teams refer to.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from prepare.access.categories import Action, Category
from prepare.accounts.models import OrganisationType, Role
from prepare.cases.models import CaseStatus, DataSubjectCategory, NoteKind
from prepare.partnerships.models import LegalBasis

# One password for every demo account, printed by ``prepare demo``.
DEMO_PASSWORD = "demo-release-plan-2019"

R, W = Action.READ, Action.WRITE
C = Category
D = datetime.date

# Which categories each kind of member may read ("read") or read and write
# ("write"). The coordinating municipality sees broadly but never police
# intelligence; the police see identity and intelligence; the exit NGO works
# on interventions and sees no identity, so it knows cases by reference only;
# it writes social information too, because its mentors assess resettlement
# needs (as the Vilvoorde pilot's shared needs-assessment method had it).
GRID: dict[str, dict[str, str]] = {
    "municipality": {
        C.IDENTITY: W,
        C.JUSTICE: W,
        C.RISK: W,
        C.IDEOLOGY: W,
        C.HEALTH: R,
        C.SOCIAL: W,
        C.INTERVENTIONS: W,
        C.MEETINGS: W,
    },
    "probation": {
        C.IDENTITY: W,
        C.JUSTICE: W,
        C.RISK: W,
        C.IDEOLOGY: R,
        C.HEALTH: R,
        C.SOCIAL: W,
        C.INTERVENTIONS: W,
        C.MEETINGS: W,
    },
    "prison": {
        C.IDENTITY: R,
        C.JUSTICE: W,
        C.RISK: R,
        C.IDEOLOGY: R,
        C.INTERVENTIONS: R,
        C.MEETINGS: R,
    },
    "police": {
        C.IDENTITY: R,
        C.JUSTICE: R,
        C.RISK: W,
        C.IDEOLOGY: W,
        C.MEETINGS: R,
        C.INTELLIGENCE: W,
    },
    "youth": {
        C.IDENTITY: R,
        C.JUSTICE: R,
        C.RISK: R,
        C.SOCIAL: W,
        C.INTERVENTIONS: W,
        C.MEETINGS: R,
    },
    "social": {C.IDENTITY: R, C.SOCIAL: W, C.INTERVENTIONS: R, C.MEETINGS: R},
    "council": {C.IDENTITY: R, C.SOCIAL: W, C.INTERVENTIONS: R, C.MEETINGS: R},
    "housing": {C.IDENTITY: R, C.SOCIAL: W},
    "employment": {C.IDENTITY: R, C.SOCIAL: R, C.INTERVENTIONS: W},
    "health": {
        C.IDENTITY: R,
        C.RISK: R,
        C.HEALTH: W,
        C.SOCIAL: R,
        C.INTERVENTIONS: R,
        C.MEETINGS: R,
    },
    "exit": {C.IDEOLOGY: R, C.SOCIAL: W, C.INTERVENTIONS: W, C.MEETINGS: R},
    "restorative": {C.SOCIAL: R, C.INTERVENTIONS: W, C.MEETINGS: R},
}


# The languages the demo's organisations work in, by their country.
LANGUAGES_BY_COUNTRY: dict[str, list[str]] = {
    "NL": ["nl", "en"],
    "BE": ["nl", "fr"],
    "ES": ["es", "ca"],
}


@dataclass(frozen=True)
class OrgSpec:
    key: str
    name: str
    type: str
    city: str
    member_since: datetime.date
    member_until: datetime.date | None = None


@dataclass(frozen=True)
class UserSpec:
    username: str
    first_name: str
    last_name: str
    org_key: str
    role: str


@dataclass(frozen=True)
class PersonSpec:
    given_name: str
    family_name: str
    birth_date: datetime.date
    subject: str
    status: str
    opened_days_ago: int
    # Organisation keys on the case team; "police" names the partnership's
    # police officer rather than the whole police organisation.
    team: str


@dataclass(frozen=True)
class PartnershipSpec:
    code: str
    name: str
    country: str
    timezone: str
    coordinator_key: str
    agreement_title: str
    legal_basis: str
    legal_reference: str
    agreement_from: datetime.date
    # Years the agreement runs after the year it is first loaded (None: open-ended).
    agreement_years: int | None
    orgs: tuple[OrgSpec, ...]
    users: tuple[UserSpec, ...]
    persons: tuple[PersonSpec, ...]


T = OrganisationType
S = CaseStatus
CONVICTED, SUSPECT, OTHER = (
    DataSubjectCategory.CONVICTED,
    DataSubjectCategory.SUSPECT,
    DataSubjectCategory.OTHER,
)


def _staff(prefix: str, people: dict[str, tuple[str, str, str, str]]) -> tuple[UserSpec, ...]:
    return tuple(
        UserSpec(f"{prefix}.{suffix}", first, last, org_key, role)
        for suffix, (first, last, org_key, role) in people.items()
    )


ROTTERDAM = PartnershipSpec(
    code="RTM",
    name="Rotterdam release and probation partnership",
    country="NL",
    timezone="Europe/Amsterdam",
    coordinator_key="municipality",
    agreement_title="Rotterdam covenant on the multi-agency approach to radicalisation",
    legal_basis=LegalBasis.COVENANT,
    legal_reference="Covenant of 12 March 2024, articles 4 to 9 (fictional demo text)",
    agreement_from=D(2024, 3, 12),
    agreement_years=None,
    orgs=(
        OrgSpec(
            "municipality",
            "City of Rotterdam, Safety and Prevention",
            T.LOCAL_AUTHORITY,
            "Rotterdam",
            D(2018, 1, 1),
        ),
        OrgSpec(
            "probation",
            "Probation Service Rotterdam region",
            T.PROBATION,
            "Rotterdam",
            D(2018, 1, 1),
        ),
        OrgSpec(
            "prison", "Rotterdam Penitentiary Institution", T.PRISON, "Rotterdam", D(2018, 3, 1)
        ),
        OrgSpec("police", "Police Unit Rotterdam", T.POLICE, "Rotterdam", D(2018, 1, 1)),
        OrgSpec(
            "youth",
            "Youth Protection Service Rotterdam",
            T.YOUTH_PROTECTION,
            "Rotterdam",
            D(2019, 2, 1),
        ),
        OrgSpec(
            "social",
            "Rotterdam Social Services Department",
            T.SOCIAL_SERVICES,
            "Rotterdam",
            D(2018, 1, 1),
        ),
        OrgSpec("housing", "Maasoever Housing Association", T.HOUSING, "Rotterdam", D(2019, 9, 1)),
        OrgSpec(
            "employment",
            "Rotterdam Work and Income Office",
            T.EMPLOYMENT,
            "Rotterdam",
            D(2020, 1, 6),
        ),
        OrgSpec(
            "health", "Rijnmond Forensic Outpatient Clinic", T.HEALTH, "Rotterdam", D(2019, 5, 1)
        ),
        OrgSpec("exit", "Exit Rotterdam Foundation", T.EXIT_NGO, "Rotterdam", D(2018, 6, 1)),
        OrgSpec(
            "debt",
            "Rotterdam Debt Advice Foundation",
            T.OTHER,
            "Rotterdam",
            D(2019, 1, 1),
            member_until=D(2024, 12, 31),
        ),
    ),
    users=_staff(
        "rtm",
        {
            "coordinator": ("Sanne", "Verbeek", "municipality", Role.COORDINATOR),
            # A second coordinator: the four eyes that approve a closure.
            "coordinator2": ("Koen", "Dekker", "municipality", Role.COORDINATOR),
            "casemanager": ("Marloes", "Jansen", "probation", Role.CASE_MANAGER),
            "police": ("Dennis", "van Leeuwen", "police", Role.PRACTITIONER),
            "exit": ("Tess", "Wouters", "exit", Role.PRACTITIONER),
            "prison": ("Ruud", "Hendriks", "prison", Role.PRACTITIONER),
            "social": ("Fatma", "Yilmaz", "social", Role.PRACTITIONER),
            "housing": ("Joost", "Mulder", "housing", Role.PRACTITIONER),
            "health": ("Eva", "Brink", "health", Role.PRACTITIONER),
            "observer": ("Ingrid", "Bos", "probation", Role.OBSERVER),
            "trainer": ("Pieter", "de Graaf", "municipality", Role.TRAINER),
            "analyst": ("Lotte", "Smit", "municipality", Role.ANALYST),
            "dpo": ("Hanneke", "Visser", "municipality", Role.AUDITOR),
        },
    ),
    persons=(
        PersonSpec(
            "Daan",
            "Kuipers",
            D(1996, 4, 12),
            CONVICTED,
            S.PRE_RELEASE,
            240,
            "probation prison police exit housing",
        ),
        PersonSpec(
            "Samira",
            "Benhaddou",
            D(1999, 9, 3),
            CONVICTED,
            S.COMMUNITY,
            380,
            "probation police exit social health",
        ),
        PersonSpec(
            "Jesse",
            "van Dijk",
            D(2001, 1, 27),
            CONVICTED,
            S.COMMUNITY,
            300,
            "probation exit housing",
        ),
        # Release planning runs (see demo/lifecycle.py) while the housing
        # association that owns his housing item is not on his team: the
        # board flags it and the coordinator is offered to add it.
        PersonSpec(
            "Mourad",
            "Ait Said",
            D(1993, 6, 18),
            CONVICTED,
            S.PRE_RELEASE,
            150,
            "probation prison exit employment",
        ),
        PersonSpec(
            "Kevin",
            "Brouwer",
            D(1998, 11, 5),
            CONVICTED,
            S.COMMUNITY,
            410,
            "probation police social",
        ),
        PersonSpec("Yara", "Hoekstra", D(2006, 2, 14), OTHER, S.TRIAGE, 35, "probation youth"),
        PersonSpec(
            "Thomas",
            "Verhoeven",
            D(1990, 8, 30),
            CONVICTED,
            S.CLOSING,
            400,
            "probation exit housing",
        ),
        PersonSpec(
            "Anouar",
            "El Khattabi",
            D(1995, 12, 1),
            CONVICTED,
            S.CLOSED,
            395,
            "probation police exit",
        ),
        PersonSpec("Rik", "Dekker", D(2000, 5, 22), CONVICTED, S.FOLLOW_UP, 420, "probation exit"),
        PersonSpec("Ilias", "Bakker", D(1997, 3, 9), SUSPECT, S.REFERRED, 12, ""),
        PersonSpec("Lisa", "Meijer", D(2005, 7, 19), OTHER, S.REFERRED, 6, ""),
        PersonSpec(
            "Ozan",
            "Demir",
            D(1994, 10, 11),
            CONVICTED,
            S.PRE_RELEASE,
            200,
            "probation prison police health",
        ),
        PersonSpec(
            "Noah",
            "Vermeulen",
            D(2003, 9, 25),
            CONVICTED,
            S.COMMUNITY,
            260,
            "probation police exit social housing",
        ),
        PersonSpec("Fenna", "Smits", D(1992, 1, 30), CONVICTED, S.TRIAGE, 45, "probation police"),
        PersonSpec("Hamza", "Yousfi", D(1991, 4, 4), CONVICTED, S.ARCHIVED, 430, "probation exit"),
    ),
)

CATALONIA = PartnershipSpec(
    code="CAT",
    name="Catalonia reintegration partnership",
    country="ES",
    timezone="Europe/Madrid",
    coordinator_key="municipality",
    agreement_title="Interinstitutional protocol on the return of released offenders",
    legal_basis=LegalBasis.COVENANT,
    legal_reference="Protocol between the justice department, the regional police and the "
    "town councils, clauses 3 to 6 (fictional demo text)",
    agreement_from=D(2024, 1, 15),
    agreement_years=2,
    orgs=(
        OrgSpec(
            "municipality",
            "Regional Justice Department, Release Programmes Unit",
            T.LOCAL_AUTHORITY,
            "Barcelona",
            D(2018, 4, 1),
        ),
        OrgSpec(
            "probation",
            "Open Regime and Community Sentences Service",
            T.PROBATION,
            "Barcelona",
            D(2018, 4, 1),
        ),
        OrgSpec("prison", "Llobregat Penitentiary Centre", T.PRISON, "Sant Esteve", D(2018, 4, 1)),
        OrgSpec(
            "police",
            "Regional Police, Information Division",
            T.POLICE,
            "Sabadell",
            D(2018, 4, 1),
        ),
        OrgSpec(
            "youth",
            "Juvenile Justice Service of Catalonia",
            T.YOUTH_PROTECTION,
            "Barcelona",
            D(2019, 1, 10),
        ),
        OrgSpec(
            "social",
            "Terrassa Town Council, Social Services",
            T.SOCIAL_SERVICES,
            "Terrassa",
            D(2018, 9, 1),
        ),
        OrgSpec(
            "council",
            "L'Hospitalet Town Council, Community Services",
            T.LOCAL_AUTHORITY,
            "L'Hospitalet de Llobregat",
            D(2018, 9, 1),
        ),
        OrgSpec(
            "employment", "Baix Llobregat Job Cooperative", T.EMPLOYMENT, "Cornellà", D(2020, 2, 3)
        ),
        OrgSpec(
            "health",
            "Vallès Community Mental Health Centre",
            T.HEALTH,
            "Terrassa",
            D(2019, 6, 1),
        ),
        OrgSpec(
            "exit",
            "Crossroads Association for Disengagement",
            T.EXIT_NGO,
            "Barcelona",
            D(2018, 11, 1),
        ),
    ),
    users=_staff(
        "cat",
        {
            "coordinator": ("Montserrat", "Puig", "municipality", Role.COORDINATOR),
            "casemanager": ("Jordi", "Ferrer", "probation", Role.CASE_MANAGER),
            "police": ("Albert", "Soler", "police", Role.PRACTITIONER),
            "exit": ("Laia", "Vidal", "exit", Role.PRACTITIONER),
            "prison": ("Marta", "Casals", "prison", Role.PRACTITIONER),
            "social": ("Núria", "Roca", "social", Role.PRACTITIONER),
            "youth": ("Pau", "Serra", "youth", Role.PRACTITIONER),
            "health": ("Elena", "Martín", "health", Role.PRACTITIONER),
            "observer": ("Xavier", "Pons", "council", Role.OBSERVER),
            "trainer": ("Rosa", "Camps", "municipality", Role.TRAINER),
            "analyst": ("David", "Riera", "municipality", Role.ANALYST),
            "dpo": ("Carme", "Bosch", "municipality", Role.AUDITOR),
        },
    ),
    persons=(
        PersonSpec(
            "Adrià",
            "Torres Vila",
            D(1994, 2, 8),
            CONVICTED,
            S.PRE_RELEASE,
            210,
            "probation prison police exit council",
        ),
        PersonSpec(
            "Karim",
            "Haddad Ruiz",
            D(1992, 7, 21),
            CONVICTED,
            S.PRE_RELEASE,
            180,
            "probation prison exit social employment",
        ),
        PersonSpec(
            "Sergi",
            "Navarro Puig",
            D(1997, 5, 2),
            CONVICTED,
            S.COMMUNITY,
            330,
            "probation police exit social health",
        ),
        PersonSpec(
            "Aya",
            "Mansouri Gil",
            D(2000, 12, 12),
            CONVICTED,
            S.COMMUNITY,
            290,
            "probation exit council",
        ),
        PersonSpec(
            "Iván",
            "Moreno Sala",
            D(1989, 3, 17),
            CONVICTED,
            S.COMMUNITY,
            405,
            "probation police employment",
        ),
        PersonSpec(
            "Oriol",
            "Ribas Font",
            D(2006, 10, 4),
            CONVICTED,
            S.COMMUNITY,
            240,
            "probation youth exit social",
        ),
        PersonSpec(
            "Youssef", "Amrani López", D(1995, 1, 29), SUSPECT, S.TRIAGE, 28, "probation police"
        ),
        PersonSpec(
            "Clara", "Domènech Roig", D(2007, 4, 16), OTHER, S.TRIAGE, 40, "probation youth"
        ),
        PersonSpec("Hugo", "Ramos Costa", D(1998, 8, 6), CONVICTED, S.REFERRED, 9, ""),
        PersonSpec("Bilal", "Ezzahri Pérez", D(1996, 6, 23), CONVICTED, S.REFERRED, 3, ""),
        PersonSpec(
            "Pol",
            "Giménez Bosch",
            D(1993, 11, 11),
            CONVICTED,
            S.CLOSING,
            390,
            "probation exit employment",
        ),
        PersonSpec(
            "Rachid",
            "Belkacem Mir",
            D(1990, 9, 9),
            CONVICTED,
            S.CLOSED,
            420,
            "probation police exit",
        ),
        PersonSpec(
            "Miquel",
            "Serrano Coll",
            D(1991, 2, 27),
            CONVICTED,
            S.FOLLOW_UP,
            425,
            "probation exit council",
        ),
        PersonSpec(
            "Nadia",
            "Fernández Lahlou",
            D(1999, 4, 1),
            CONVICTED,
            S.PRE_RELEASE,
            130,
            "probation prison police health",
        ),
        PersonSpec(
            "Jan",
            "Castells Ortega",
            D(2002, 12, 30),
            CONVICTED,
            S.COMMUNITY,
            270,
            "probation police exit social",
        ),
    ),
)

VILVOORDE = PartnershipSpec(
    code="VIL",
    name="Vilvoorde local integrated security cell",
    country="BE",
    timezone="Europe/Brussels",
    coordinator_key="municipality",
    agreement_title="Information-sharing charter of the Vilvoorde security cell",
    legal_basis=LegalBasis.STATUTE,
    legal_reference="Belgian Act of 30 July 2018 establishing local integrated security cells "
    "on radicalism, extremism and terrorism; local charter of the cell (demo)",
    agreement_from=D(2023, 9, 1),
    agreement_years=3,
    orgs=(
        OrgSpec(
            "municipality",
            "City of Vilvoorde, Prevention and Diversity Service",
            T.LOCAL_AUTHORITY,
            "Vilvoorde",
            D(2017, 10, 1),
        ),
        OrgSpec(
            "probation", "Justice House Halle-Vilvoorde", T.PROBATION, "Vilvoorde", D(2017, 10, 1)
        ),
        OrgSpec("prison", "Brussels Region Prison", T.PRISON, "Haren", D(2018, 2, 1)),
        OrgSpec("police", "Local Police Zone Vilvoorde", T.POLICE, "Vilvoorde", D(2017, 10, 1)),
        OrgSpec("youth", "Youth Care Flemish Brabant", T.YOUTH_PROTECTION, "Leuven", D(2019, 3, 1)),
        OrgSpec(
            "social",
            "Vilvoorde Public Social Welfare Centre",
            T.SOCIAL_SERVICES,
            "Vilvoorde",
            D(2017, 10, 1),
        ),
        OrgSpec("housing", "Senne Valley Social Housing", T.HOUSING, "Vilvoorde", D(2018, 5, 1)),
        OrgSpec(
            "health",
            "Flemish Brabant Centre for Mental Health Care",
            T.HEALTH,
            "Vilvoorde",
            D(2018, 5, 1),
        ),
        OrgSpec(
            "exit", "Exit Vilvoorde Mentoring Network", T.EXIT_NGO, "Vilvoorde", D(2018, 1, 15)
        ),
        OrgSpec(
            "restorative",
            "Halle-Vilvoorde Restorative Mediation",
            T.RESTORATIVE_JUSTICE,
            "Halle",
            D(2020, 9, 1),
        ),
    ),
    users=_staff(
        "vil",
        {
            "coordinator": ("Els", "Peeters", "municipality", Role.COORDINATOR),
            "casemanager": ("Tom", "Claes", "probation", Role.CASE_MANAGER),
            "police": ("Bart", "Maes", "police", Role.PRACTITIONER),
            "exit": ("Nadia", "Benali", "exit", Role.PRACTITIONER),
            "prison": ("Koen", "Willems", "prison", Role.PRACTITIONER),
            "social": ("An", "Jacobs", "social", Role.PRACTITIONER),
            "health": ("Sofie", "Mertens", "health", Role.PRACTITIONER),
            "restorative": ("Lieve", "Goossens", "restorative", Role.PRACTITIONER),
            "observer": ("Wim", "Dubois", "probation", Role.OBSERVER),
            "trainer": ("Griet", "Wouters", "municipality", Role.TRAINER),
            "analyst": ("Jan", "Lambert", "municipality", Role.ANALYST),
            "dpo": ("Marleen", "De Smet", "municipality", Role.AUDITOR),
        },
    ),
    persons=(
        PersonSpec(
            "Ayoub",
            "Lahlali",
            D(1995, 5, 14),
            CONVICTED,
            S.COMMUNITY,
            415,
            "probation police exit social restorative",
        ),
        PersonSpec(
            "Sarah",
            "Vandenberghe",
            D(1997, 8, 2),
            CONVICTED,
            S.COMMUNITY,
            350,
            "probation exit health",
        ),
        PersonSpec(
            "Mohamed",
            "Ouali",
            D(1993, 1, 19),
            CONVICTED,
            S.PRE_RELEASE,
            220,
            "probation prison police exit housing",
        ),
        PersonSpec(
            "Jens",
            "Verstraeten",
            D(1999, 10, 27),
            CONVICTED,
            S.PRE_RELEASE,
            160,
            "probation prison police",
        ),
        PersonSpec(
            "Ilyas",
            "Haddouchi",
            D(2004, 3, 3),
            CONVICTED,
            S.COMMUNITY,
            280,
            "probation youth exit social",
        ),
        PersonSpec(
            "Stijn",
            "Van Damme",
            D(1990, 6, 8),
            CONVICTED,
            S.COMMUNITY,
            300,
            "probation police housing",
        ),
        PersonSpec("Yasmine", "El Amrani", D(1998, 2, 11), OTHER, S.TRIAGE, 30, "probation exit"),
        PersonSpec("Kobe", "De Wolf", D(2001, 9, 15), SUSPECT, S.TRIAGE, 50, "probation police"),
        PersonSpec("Ruben", "Janssens", D(1996, 12, 5), CONVICTED, S.REFERRED, 10, ""),
        PersonSpec("Amina", "Tahiri", D(2007, 7, 7), OTHER, S.REFERRED, 4, ""),
        PersonSpec(
            "Dries",
            "Vermeiren",
            D(1992, 4, 24),
            CONVICTED,
            S.CLOSING,
            410,
            "probation exit restorative",
        ),
        PersonSpec(
            "Soufiane", "Azzouzi", D(1991, 11, 2), CONVICTED, S.CLOSED, 425, "probation police exit"
        ),
        PersonSpec(
            "Lotte",
            "Michiels",
            D(1994, 8, 19),
            CONVICTED,
            S.FOLLOW_UP,
            430,
            "probation exit social",
        ),
        PersonSpec(
            "Hicham",
            "Bouzid",
            D(1989, 5, 31),
            CONVICTED,
            S.PRE_RELEASE,
            120,
            "probation prison exit health",
        ),
        PersonSpec(
            "Wout", "Claessens", D(1990, 1, 9), CONVICTED, S.ARCHIVED, 435, "probation exit"
        ),
    ),
)

PARTNERSHIPS: tuple[PartnershipSpec, ...] = (ROTTERDAM, CATALONIA, VILVOORDE)

# The administrator of the installation belongs to no partnership.
ADMIN = UserSpec("admin", "Demo", "Administrator", "", Role.ADMINISTRATOR)

# Who also manages their organisation's accounts (``User.manages_accounts``):
# the probation service's observer in Rotterdam, as its office manager would.
ACCOUNT_MANAGERS = frozenset({"rtm.observer"})

# --- Team entries ------------------------------------------------------------------

# Why each kind of member is on a case team (need to know, not curiosity).
TEAM_PURPOSES: dict[str, str] = {
    "probation": "Supervision of licence conditions and case management",
    "prison": "Release planning from custody",
    "police": "Threat assessment and briefing of the neighbourhood officer",
    "youth": "Youth protection measure ordered by the youth court",
    "social": "Income, debts and family support",
    "council": "Local reintegration support in the person's town",
    "housing": "Housing after release",
    "employment": "Job coaching and vocational training",
    "health": "Outpatient treatment and continuity of care",
    "exit": "Exit programme and mentoring",
    "restorative": "Restorative practice with the neighbourhood",
}

# Members whose team entry runs for a limited time (days from the day of loading).
TEAM_DAYS: dict[str, int] = {"prison": 120, "police": 180, "youth": 365, "restorative": 150}

# --- Notes ---------------------------------------------------------------------------

F, A = NoteKind.FACT, NoteKind.ASSESSMENT

# What each author writes: (category, kind, pool of texts). Texts outside the
# identity category never name the person, so that agencies without the
# identity grant read them without learning who it is.
NOTES: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    "coordinator": (
        (
            C.IDENTITY,
            F,
            (
                "Referral received from the penitentiary institution. Identity confirmed against "
                "the custody record; a valid identity card is kept in the prison property store.",
                "Referral received from the public prosecutor's office. Identity checked at "
                "intake; the residence permit expires next year and renewal has been requested.",
                "Referral from the probation service. Identity confirmed; the person is known "
                "under one alias in earlier police reports, both names are on the custody file.",
                "Referral from the youth court via the youth protection service. Identity "
                "confirmed with the population register; a legal guardian is involved.",
            ),
        ),
        (
            C.JUSTICE,
            F,
            (
                "Sentenced to four years for participation in the activities of a terrorist "
                "organisation; earliest conditional release within the coming year.",
                "Sentenced to thirty months for disseminating material inciting terrorist "
                "offences online, of which ten months suspended on conditions.",
                "Sentenced to three years for preparing to travel to a conflict zone; released "
                "on licence with a reporting duty and a travel ban.",
                "Sentenced to two years for threats and assault with an extremist motive; "
                "probation order with an obligation to follow an exit programme.",
            ),
        ),
        (
            C.IDEOLOGY,
            A,
            (
                "Coordinator's summary of the round table: the team sees first signs of "
                "distance from the movement, but the person still defends parts of its "
                "worldview when challenged.",
                "The team agrees that ideological counselling is not a priority now; practical "
                "stability (housing, work) is the better lever at this stage.",
            ),
        ),
    ),
    "probation": (
        (
            C.JUSTICE,
            F,
            (
                "Licence conditions confirmed: weekly reporting to probation, no contact with "
                "the co-defendants, participation in the exit programme, travel ban.",
                "Reporting duty reduced from weekly to fortnightly after three months without "
                "incident, with the agreement of the public prosecutor.",
                "Probation order runs for another eighteen months. No breaches recorded in the "
                "last reporting period.",
                "One late report this month, explained by a shift at work; recorded as a "
                "warning, no further action.",
            ),
        ),
        (
            C.RISK,
            A,
            (
                "Structured professional judgement: overall concern moderate. Protective "
                "factors: stable contact with a parent, motivation for vocational training. Risk "
                "factors: isolation after release, former peers online.",
                "Concern lowered from high to moderate after six months of stable supervision. "
                "Remains sensitive to grievance narratives about discrimination.",
                "Review: no new indicators. The key risk period remains the first weeks after "
                "release, while housing and income are not yet settled.",
                "Concern stays moderate. Compliance is good, but the person avoids talking about "
                "the offence and its victims; to be worked on in supervision.",
            ),
        ),
        (
            C.SOCIAL,
            F,
            (
                "Lives with a parent and two younger siblings; the family supports the release "
                "plan and attended the last meeting.",
                "Applied for social assistance; first payment expected within four weeks. Debt "
                "counselling intake planned.",
                "Started a part-time job in a warehouse through the municipal work programme, "
                "twenty-four hours a week.",
            ),
        ),
    ),
    "prison": (
        (
            C.JUSTICE,
            F,
            (
                "Custody record: one disciplinary report in the first year (possession of a "
                "phone), none since. On the enhanced regime since last spring.",
                "Completed the twelve-session cognitive skills course in custody. Leave "
                "request for a housing viewing approved by the governor.",
                "Day release granted twice without incident. Release date confirmed by the "
                "sentence calculation unit.",
            ),
        ),
    ),
    "police": (
        (
            C.INTELLIGENCE,
            F,
            (
                "Police information: seen with a former co-defendant at a railway station last "
                "month; no indication of planning. Shared with the named officer only.",
                "Information from the national unit: a new social-media account linked to the "
                "person follows two extremist channels. Under review.",
                "No police contacts since release. The neighbourhood officer was briefed on "
                "the licence conditions.",
            ),
        ),
        (
            C.RISK,
            A,
            (
                "Police assessment: no current indications of involvement in extremist "
                "networks. Contact with the recruiter named in the judgment appears to have "
                "stopped.",
                "Police assessment: low to moderate. The main concern is the online milieu, "
                "not the local network.",
            ),
        ),
    ),
    "exit": (
        (
            C.INTERVENTIONS,
            F,
            (
                "Exit programme intake held; the person agreed to fortnightly meetings with a "
                "mentor who left a violent movement himself fifteen years ago.",
                "Mentoring session: talked about work, a conflict with a neighbour and how to "
                "respond to provocation online.",
                "Mentoring session held at the gym, at the person's request. Discussed the "
                "break with old friends and what to fill the evenings with.",
                "Mentor accompanied the person to the job centre. The person asked to continue "
                "the sessions after the licence ends.",
            ),
        ),
        (
            C.INTERVENTIONS,
            A,
            (
                "Progress in mentoring is steady; the person now raises difficult topics "
                "unprompted. We propose to continue for another six months.",
                "Engagement varies: two cancelled sessions this month, then a long and open "
                "conversation. Trust in the mentor is growing.",
                "The person questions the group's worldview more openly, but still feels "
                "loyalty to old friends. We will work on a new social network.",
            ),
        ),
    ),
    "social": (
        (
            C.SOCIAL,
            F,
            (
                "Social assistance granted from the first day after release. Budget "
                "coaching started; debts of about four thousand euros registered.",
                "Family support: the social worker visited the household; the younger brother "
                "is referred to the school's prevention officer.",
                "Health insurance and bank account arranged before release.",
            ),
        ),
    ),
    "council": (
        (
            C.SOCIAL,
            F,
            (
                "Registered at the town's community centre; a place in the evening language "
                "and citizenship course is reserved.",
                "Town council housing office accepted the application for a social rental; "
                "expected waiting time four months.",
            ),
        ),
    ),
    "housing": (
        (
            C.SOCIAL,
            F,
            (
                "A room in supported housing is reserved from the release date; the tenancy "
                "starts with a six-month trial period.",
                "Tenancy running without complaints from neighbours. Rent paid on time for "
                "three months.",
            ),
        ),
    ),
    "employment": (
        (
            C.INTERVENTIONS,
            F,
            (
                "Vocational training (welding) starts at the regional training centre, three "
                "days a week.",
                "Job coaching: CV prepared, two interviews planned with employers in the "
                "port area.",
            ),
        ),
    ),
    "youth": (
        (
            C.SOCIAL,
            A,
            (
                "The young person depends strongly on peers for recognition. School attendance "
                "improved since the measure started; the family cooperates.",
                "Parents are worried but supportive. Risk of dropping out of school remains; "
                "we advise a mentor of the same age group.",
            ),
        ),
        (
            C.INTERVENTIONS,
            F,
            (
                "Youth measure: weekly sessions with the youth worker and a sports programme "
                "on Wednesday afternoons.",
            ),
        ),
    ),
    "health": (
        (
            C.HEALTH,
            A,
            (
                "Psychologist's assessment: symptoms of post-traumatic stress; weekly "
                "trauma-focused sessions recommended.",
                "Attended four of five appointments at the outpatient clinic this quarter. Mood "
                "stable; medication unchanged.",
                "Continuity of care arranged with the prison health service before release; "
                "registered with a general practitioner near the new address.",
            ),
        ),
    ),
    "restorative": (
        (
            C.INTERVENTIONS,
            F,
            (
                "Restorative circle with the neighbourhood prepared; two residents and a "
                "local youth worker have agreed to take part.",
                "Mediated meeting with the victim's family held; an apology letter was accepted.",
            ),
        ),
    ),
}

# What the coordinator writes in the meetings category at each stage.
MEETING_NOTES: dict[str, str] = {
    S.TRIAGE: "Triage meeting: more information needed from the prison and the police before "
    "deciding; to be discussed again at the next triage.",
    S.PRE_RELEASE: "Round table: release plan discussed with probation, the prison, police and "
    "the exit mentor. Actions: housing confirmation (municipality), briefing of the "
    "neighbourhood officer (police), first mentor meeting on the day of release (NGO).",
    S.COMMUNITY: "Case conference: the team agreed to keep the reporting duty as it is and to "
    "review in three months. No escalation.",
    S.CLOSING: "Closure meeting: the goals of the plan are reached; closure proposed to the "
    "coordinator with outcome 'reintegrated'.",
}
CLOSURE_NOTE = (
    "Closure approved by the coordinator. Follow-up reviews at 6 and 12 months agreed with "
    "probation and the exit mentor."
)
# Why closure was proposed (the proposal, before a second coordinator approves it).
CLOSURE_PROPOSAL_REASON = (
    "The goals of the plan are reached; closure proposed at the case meeting with outcome "
    "'reintegrated'."
)

# Why the ended demo cases were closed, and what came after the closure.
CLOSURE_REASON = (
    "Closure approved at the case meeting: the plan's goals are met and the partners "
    "see no need for further multi-agency work."
)
AFTER_CLOSURE_REASON: dict[str, str] = {
    CaseStatus.FOLLOW_UP: "Six-month follow-up review started as scheduled at closure.",
    CaseStatus.ARCHIVED: "No concerns since closure; the case is archived.",
}
