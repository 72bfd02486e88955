import factory
from django.contrib.auth import get_user_model

from campaigns.models import Campaign, Citation, TalkingPoint
from councils.models import DirectoryImport, Municipality, Representative, Role, Ward


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.django.Password("correct horse battery staple")


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    slug = factory.Sequence(lambda n: f"campaign-{n}")
    status = Campaign.Status.LIVE
    title_en = factory.Sequence(lambda n: f"Campaign {n}")
    title_fr = factory.Sequence(lambda n: f"Campagne {n}")
    summary_en = "Write to your council."
    summary_fr = "Écrivez à votre conseil."
    body_en = "Why it **matters**."
    body_fr = "Pourquoi c'est **important**."
    letter_subjects_en = "Please act in {municipality}\nA request from a resident of {municipality}"
    letter_subjects_fr = "Agissez à {municipality}"
    letter_template_en = "Dear {recipient_name},\n\nI live in {municipality}.\n\n{sender_name}"
    letter_template_fr = "Bonjour {recipient_name},\n\nJ'habite {municipality}.\n\n{sender_name}"
    personal_prompt_en = "Why does this matter to you?"
    personal_prompt_fr = "Pourquoi est-ce important pour vous?"
    target_roles = factory.LazyFunction(lambda: [Role.MAYOR, Role.COUNCILLOR])
    goal = 100
    organization_name = "Test Org"
    sender_email = "letters@example.org"


class CitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Citation

    campaign = factory.SubFactory(CampaignFactory)
    order = factory.Sequence(lambda n: n)
    title_en = factory.Sequence(lambda n: f"Source {n}")
    publisher = "The Daily"
    url = "https://example.org/source"


class TalkingPointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TalkingPoint

    campaign = factory.SubFactory(CampaignFactory)
    order = factory.Sequence(lambda n: n)
    text_en = factory.Sequence(lambda n: f"Fact number {n}.")
    text_fr = factory.Sequence(lambda n: f"Fait numéro {n}.")


class MunicipalityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Municipality
        django_get_or_create = ("ocd_id",)

    ocd_id = factory.Sequence(lambda n: f"ocd-division/country:ca/csd:35{n:05d}")
    csd_code = factory.Sequence(lambda n: f"35{n:05d}")
    name = factory.Sequence(lambda n: f"Town {n}")
    province = "ON"
    classification = "T"


class WardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ward

    municipality = factory.SubFactory(MunicipalityFactory)
    ocd_id = factory.LazyAttributeSequence(lambda o, n: f"{o.municipality.ocd_id}/ward:{n}")
    name = factory.Sequence(lambda n: f"Ward {n}")
    number = factory.Sequence(str)


class DirectoryImportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DirectoryImport

    file_name = factory.Sequence(lambda n: f"representatives-{n}.csv")
    municipality = factory.SubFactory(MunicipalityFactory)
    text = "Primary role,First name,Last name\nMayor,Marie,Tremblay\nCouncillor,Julie,Bouchard\n"
    rows_total = 2


class RepresentativeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Representative

    municipality = factory.SubFactory(MunicipalityFactory)
    role = Role.COUNCILLOR
    role_text = "Councillor"
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    name = factory.LazyAttribute(lambda o: f"{o.first_name} {o.last_name}")
    email = factory.LazyAttribute(lambda o: f"{o.last_name.lower()}@example.org")
    email_kind = Representative.EmailKind.PERSONAL
