"""Factories for the domain, used by the cast and by individual tests."""

from __future__ import annotations

import datetime

import factory
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from prepare.accounts.models import Organisation, OrganisationType, Role, User
from prepare.cases.models import DataSubjectCategory, Person
from prepare.partnerships.models import (
    CategoryGrant,
    LegalBasis,
    Membership,
    Partnership,
    SharingAgreement,
)

PASSWORD = "correct horse battery staple"


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    type = OrganisationType.OTHER
    city = "Rotterdam"
    country = "NL"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    organisation = factory.SubFactory(OrganisationFactory)
    role = Role.PRACTITIONER

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save()

    @factory.post_generation
    def totp(obj, create, extracted, **kwargs):
        if create and extracted is not False:
            TOTPDevice.objects.create(user=obj, name="test", confirmed=True)


class PartnershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partnership

    name = factory.Sequence(lambda n: f"Partnership {n}")
    code = factory.Sequence(lambda n: f"P{n}")
    coordinating_organisation = factory.SubFactory(
        OrganisationFactory, type=OrganisationType.LOCAL_AUTHORITY
    )


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    partnership = factory.SubFactory(PartnershipFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    starts_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=365))


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SharingAgreement

    partnership = factory.SubFactory(PartnershipFactory)
    title = "Covenant"
    legal_basis = LegalBasis.COVENANT
    legal_reference = "Covenant art. 4"
    valid_from = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=365))


class CategoryGrantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CategoryGrant


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    given_name = factory.Sequence(lambda n: f"Given{n}")
    family_name = factory.Sequence(lambda n: f"Family{n}")
    birth_date = datetime.date(1995, 3, 14)
    data_subject_category = DataSubjectCategory.CONVICTED
