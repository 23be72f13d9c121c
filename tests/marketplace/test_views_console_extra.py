"""The console's signing-keys page and the import of A2A Agent Cards."""

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from config.keys import b64url
from marketplace.models import (
    Agent,
    AgentVersion,
    Membership,
    Organization,
    OrganizationEvent,
    PublisherKey,
)
from marketplace.services.organizations import publisher_key_add
from tests.marketplace.factories import (
    AgentFactory,
    AgentVersionFactory,
    MembershipFactory,
    UserFactory,
    declaration,
)

pytestmark = pytest.mark.django_db

Role = Membership.Role


def _public_key() -> str:
    key = Ed25519PrivateKey.generate()
    return b64url(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def _keys_url(organization: Organization) -> str:
    return reverse("console-publisher-keys", args=[organization.slug])


def _revoke_url(key: PublisherKey) -> str:
    return reverse("console-publisher-key-revoke", args=[key.organization.slug, key.pk])


# Signing keys


def test_an_owner_adds_a_key_in_base64url(client: Client) -> None:
    # given
    owner = MembershipFactory.create(role=Role.OWNER)
    client.force_login(owner.user)
    public = _public_key()

    # when
    response = client.post(
        _keys_url(owner.organization), {"public_key": f" {public}\n", "label": "CI"}
    )

    # then
    assert response.status_code == 302
    key = PublisherKey.objects.get(organization=owner.organization)
    assert (key.public_key, key.label) == (public, "CI")
    assert OrganizationEvent.objects.filter(
        organization=owner.organization, action=OrganizationEvent.Action.KEY_ADDED
    ).exists()
    page = client.get(response["Location"]).content.decode()
    assert key.kid in page
    assert "CI" in page


def test_an_admin_adds_a_key_as_a_jwk(client: Client) -> None:
    admin = MembershipFactory.create(role=Role.ADMIN)
    client.force_login(admin.user)
    public = _public_key()
    jwk = json.dumps({"kty": "OKP", "crv": "Ed25519", "x": public, "kid": "mine"})

    response = client.post(_keys_url(admin.organization), {"public_key": jwk})

    assert response.status_code == 302
    assert PublisherKey.objects.get().public_key == public


@pytest.mark.parametrize(
    ("public_key", "message"),
    [
        ("not base64 !!", "32 bytes"),
        ("AAAA", "32 bytes"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "32 bytes"),
        ('{"kty": "OKP", "crv": "X25519", "x": "AAAA"}', "Only Ed25519 keys"),
        ('{"kty": "RSA", "n": "AQAB"}', "Only Ed25519 keys"),
        ('{"kty": "OKP", "crv": "Ed25519"}', "no public key"),
        ('{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}', "32 bytes"),
        ("[" * 1500, "32 bytes"),
        ("{" * 1500, "not valid JSON"),
        ("", "required"),
    ],
)
def test_a_bad_key_is_refused_on_its_field(
    client: Client, public_key: str, message: str
) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    client.force_login(owner.user)

    response = client.post(_keys_url(owner.organization), {"public_key": public_key})

    assert response.status_code == 400
    errors = response.context["form"].errors["public_key"]
    assert any(message in error for error in errors), errors
    assert not PublisherKey.objects.exists()


def test_a_private_jwk_is_refused_and_not_shown_back(client: Client) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    client.force_login(owner.user)
    secret = b64url(b"\x07" * 32)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": _public_key(), "d": secret}

    response = client.post(
        _keys_url(owner.organization), {"public_key": json.dumps(jwk)}
    )

    assert response.status_code == 400
    assert "private key" in str(response.context["form"].errors["public_key"])
    assert secret not in response.content.decode()
    assert not PublisherKey.objects.exists()


def test_a_key_registered_twice_is_refused(client: Client) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    public = _public_key()
    publisher_key_add(
        actor=owner.user, organization=owner.organization, public_key=public
    )
    client.force_login(owner.user)

    response = client.post(_keys_url(owner.organization), {"public_key": public})

    assert response.status_code == 400
    assert response.context["form"].errors
    assert PublisherKey.objects.count() == 1


def test_members_see_the_keys_but_only_owners_and_admins_change_them(
    client: Client,
) -> None:
    # given
    owner = MembershipFactory.create(role=Role.OWNER)
    key = publisher_key_add(
        actor=owner.user,
        organization=owner.organization,
        public_key=_public_key(),
        label="release",
    )
    member = MembershipFactory.create(organization=owner.organization)
    client.force_login(member.user)

    # when
    page = client.get(_keys_url(owner.organization))
    add = client.post(_keys_url(owner.organization), {"public_key": _public_key()})
    revoke = client.post(_revoke_url(key))

    # then
    assert page.status_code == 200
    html = page.content.decode()
    assert key.kid in html
    assert "release" in html
    assert _revoke_url(key) not in html
    assert 'name="public_key"' not in html
    assert add.status_code == 403
    assert revoke.status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None
    assert PublisherKey.objects.count() == 1


def test_outsiders_get_403_and_anonymous_visitors_sign_in(client: Client) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    key = publisher_key_add(
        actor=owner.user, organization=owner.organization, public_key=_public_key()
    )
    url = _keys_url(owner.organization)

    assert client.get(url).status_code == 302
    assert client.post(_revoke_url(key)).status_code == 302

    # an owner of another publisher is a stranger here
    client.force_login(MembershipFactory.create(role=Role.OWNER).user)
    assert client.get(url).status_code == 403
    assert client.post(url, {"public_key": _public_key()}).status_code == 403
    assert client.post(_revoke_url(key)).status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None
    assert PublisherKey.objects.count() == 1


def test_unknown_publishers_and_other_kinds_are_404(client: Client) -> None:
    body = MembershipFactory.create(
        role=Role.OWNER, organization__kind=Organization.Kind.CERTIFICATION_BODY
    )
    client.force_login(body.user)
    assert client.get(_keys_url(body.organization)).status_code == 404
    missing = reverse("console-publisher-keys", args=["no-such-publisher"])
    assert client.get(missing).status_code == 404


def test_an_admin_revokes_a_key_once(client: Client) -> None:
    # given
    admin = MembershipFactory.create(role=Role.ADMIN)
    key = publisher_key_add(
        actor=admin.user, organization=admin.organization, public_key=_public_key()
    )
    client.force_login(admin.user)

    # when
    first = client.post(_revoke_url(key), follow=True)
    second = client.post(_revoke_url(key), follow=True)

    # then
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert "was revoked" in first.content.decode()
    assert "revoked already" in second.content.decode()
    assert "Revoked" in second.content.decode()
    assert _revoke_url(key) not in second.content.decode()


def test_a_key_of_another_publisher_cannot_be_revoked_through_yours(
    client: Client,
) -> None:
    mine = MembershipFactory.create(role=Role.OWNER)
    theirs = MembershipFactory.create(role=Role.OWNER)
    key = publisher_key_add(
        actor=theirs.user, organization=theirs.organization, public_key=_public_key()
    )
    client.force_login(mine.user)

    url = reverse("console-publisher-key-revoke", args=[mine.organization.slug, key.pk])
    assert client.post(url).status_code == 404
    assert client.get(url).status_code == 405
    key.refresh_from_db()
    assert key.revoked_at is None


def test_the_keys_page_runs_a_constant_number_of_queries(
    client: Client, django_assert_num_queries: Any
) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    client.force_login(owner.user)
    url = _keys_url(owner.organization)
    counts = []
    for total in (1, 12):
        while PublisherKey.objects.count() < total:
            publisher_key_add(
                actor=owner.user,
                organization=owner.organization,
                public_key=_public_key(),
            )
        # session, user, organisation, membership, keys, unread messages
        with django_assert_num_queries(6):
            response = client.get(url)
        counts.append(response.content.decode().count('class="key"'))
    assert counts == [1, 12]


def test_the_console_links_the_keys_of_each_publisher_the_user_belongs_to(
    client: Client,
) -> None:
    user = UserFactory.create()
    first = MembershipFactory.create(user=user, role=Role.MEMBER)
    second = MembershipFactory.create(user=user, role=Role.OWNER)
    body = MembershipFactory.create(
        user=user, organization__kind=Organization.Kind.INDUSTRY_BODY
    )
    client.force_login(user)

    html = client.get(reverse("console")).content.decode()

    assert _keys_url(first.organization) in html
    assert _keys_url(second.organization) in html
    assert _keys_url(body.organization) not in html


# Importing Agent Cards

CARD: dict[str, Any] = {
    "name": "Trip planner",
    "description": "Plans trips and books hotels",
    "version": "2.1.0",
    "supportedInterfaces": [
        {"url": "https://trips.example.com/a2a", "protocolVersion": "1.0"}
    ],
    "defaultInputModes": ["text/plain"],
    "defaultOutputModes": ["text/plain"],
    "skills": [
        {"id": "plan", "name": "Plan a trip", "description": "Builds an itinerary"}
    ],
}


@pytest.fixture
def editor() -> Membership:
    return MembershipFactory.create(role=Role.MEMBER)


@pytest.fixture
def agent(editor: Membership) -> Agent:
    return AgentFactory.create(publisher=editor.organization)


def _import_url(agent: Agent) -> str:
    return reverse("console-version-import", args=[agent.publisher.slug, agent.slug])


def _upload(content: bytes, name: str = "agent-card.json") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/json")


def test_a_pasted_card_becomes_a_draft_version(
    client: Client, editor: Membership, agent: Agent
) -> None:
    # given
    client.force_login(editor.user)

    # when
    response = client.post(
        _import_url(agent),
        {"card_text": json.dumps(CARD), "deployment": "hybrid"},
        follow=True,
    )

    # then
    assert response.redirect_chain[-1][0] == reverse(
        "console-agent", args=[agent.publisher.slug, agent.slug]
    )
    version = AgentVersion.objects.get(agent=agent)
    assert (version.version, version.state) == ("2.1.0", AgentVersion.State.DRAFT)
    assert version.declaration["deployment"] == "hybrid"
    assert "Version 2.1.0 was imported" in response.content.decode()
    agent.refresh_from_db()
    assert agent.name == "Trip planner"


def test_an_uploaded_card_file_becomes_a_draft_version(
    client: Client, editor: Membership, agent: Agent
) -> None:
    client.force_login(editor.user)
    content = b"\xef\xbb\xbf" + json.dumps(CARD, ensure_ascii=False).encode()

    response = client.post(
        _import_url(agent), {"card_file": _upload(content), "deployment": "cloud"}
    )

    assert response.status_code == 302
    assert AgentVersion.objects.get(agent=agent).version == "2.1.0"


def test_the_agent_page_links_the_import(
    client: Client, editor: Membership, agent: Agent
) -> None:
    client.force_login(editor.user)
    manage = reverse("console-agent", args=[agent.publisher.slug, agent.slug])
    assert _import_url(agent) in client.get(manage).content.decode()
    page = client.get(_import_url(agent))
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.content.decode()


def _deep(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


# Under the size limit, but deeper than the JSON parser's recursion allows.
TOO_DEEP_TO_PARSE = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"name": ', "not valid JSON"),
        (b"[1, 2, 3]", "JSON object"),
        (b'"a card"', "JSON object"),
        (b'{"version": NaN}', "not valid JSON"),
        (_deep(40).encode(), "nested more than 32 levels"),
        (TOO_DEEP_TO_PARSE.encode(), "not valid JSON"),
        (b'{"name": "a\\u0000b"}', "NUL"),
        (b"{" + b" " * (256 * 1024) + b"}", "larger than 256 KB"),
    ],
)
def test_a_file_that_is_not_a_usable_card_is_refused(
    client: Client, editor: Membership, agent: Agent, content: bytes, message: str
) -> None:
    client.force_login(editor.user)

    response = client.post(
        _import_url(agent), {"card_file": _upload(content), "deployment": "cloud"}
    )

    assert response.status_code == 400
    errors = response.context["form"].errors["card_file"]
    assert any(message in error for error in errors), errors
    assert not AgentVersion.objects.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "line 1, column 2"),
        ("[]", "JSON object"),
        ("{" + " " * (256 * 1024) + "}", "larger than 256 KB"),
        (TOO_DEEP_TO_PARSE, "not valid JSON"),
    ],
)
def test_pasted_text_that_is_not_a_usable_card_is_refused(
    client: Client, editor: Membership, agent: Agent, text: str, message: str
) -> None:
    client.force_login(editor.user)

    response = client.post(
        _import_url(agent), {"card_text": text, "deployment": "cloud"}
    )

    assert response.status_code == 400
    errors = response.context["form"].errors["card_text"]
    assert any(message in error for error in errors), errors
    assert not AgentVersion.objects.exists()


def test_a_card_is_given_one_way_exactly(
    client: Client, editor: Membership, agent: Agent
) -> None:
    client.force_login(editor.user)
    url = _import_url(agent)

    neither = client.post(url, {"deployment": "cloud"})
    both = client.post(
        url,
        {
            "card_file": _upload(json.dumps(CARD).encode()),
            "card_text": json.dumps(CARD),
            "deployment": "cloud",
        },
    )
    bad_mode = client.post(url, {"card_text": json.dumps(CARD), "deployment": "moon"})

    assert neither.status_code == both.status_code == bad_mode.status_code == 400
    assert neither.context["form"].non_field_errors()
    assert "not both" in str(both.context["form"].non_field_errors())
    assert "deployment" in bad_mode.context["form"].errors
    assert not AgentVersion.objects.exists()


@pytest.mark.parametrize(
    ("change", "part"),
    [
        (lambda card: card.pop("name"), "name: "),
        (lambda card: card.update(skills=[]), "skills: "),
        (
            lambda card: card["skills"][0].pop("description"),
            "skills.0.description: ",
        ),
        (
            lambda card: card.update(provider={"organization": "Not us"}),
            "provider.organization: ",
        ),
    ],
)
def test_problems_in_the_card_are_shown_naming_the_field(
    client: Client, editor: Membership, agent: Agent, change: Any, part: str
) -> None:
    client.force_login(editor.user)
    card = json.loads(json.dumps(CARD))
    change(card)

    response = client.post(
        _import_url(agent),
        {"card_file": _upload(json.dumps(card).encode()), "deployment": "cloud"},
    )

    assert response.status_code == 400
    errors = response.context["form"].errors["card_file"]
    assert any(error.startswith(part) for error in errors), errors
    assert not AgentVersion.objects.exists()


def test_a_card_whose_signature_does_not_verify_is_refused(
    client: Client, editor: Membership, agent: Agent
) -> None:
    owner = MembershipFactory.create(organization=editor.organization, role="owner")
    kid = publisher_key_add(
        actor=owner.user, organization=owner.organization, public_key=_public_key()
    ).kid
    protected = b64url(json.dumps({"alg": "EdDSA", "kid": kid}).encode())
    card = {**CARD, "signatures": [{"protected": protected, "signature": "AAAA"}]}
    client.force_login(editor.user)

    response = client.post(
        _import_url(agent), {"card_text": json.dumps(card), "deployment": "cloud"}
    )

    assert response.status_code == 400
    errors = response.context["form"].errors["card_text"]
    assert any(error.startswith("signatures: ") for error in errors), errors
    assert not AgentVersion.objects.exists()


def test_only_the_publishers_members_import(client: Client, agent: Agent) -> None:
    url = _import_url(agent)
    body = {"card_text": json.dumps(CARD), "deployment": "cloud"}

    assert client.post(url, body).status_code == 302  # to sign in
    assert client.post(url, body)["Location"].startswith(reverse("login"))

    # a member of another publisher, even its owner
    client.force_login(MembershipFactory.create(role=Role.OWNER).user)
    assert client.get(url).status_code == 403
    assert client.post(url, body).status_code == 403

    missing = reverse("console-version-import", args=[agent.publisher.slug, "nope"])
    assert client.get(missing).status_code == 404
    assert not AgentVersion.objects.exists()


# The new-version form


def test_a_new_version_starts_from_the_newest_declaration(client: Client) -> None:
    # given
    member = MembershipFactory.create(role=Role.MEMBER)
    agent = AgentFactory.create(publisher=member.organization)
    AgentVersionFactory.create(
        agent=agent,
        version="1.4.9",
        declaration=declaration(endpoint="https://newest.example.com/a2a"),
    )
    client.force_login(member.user)

    # when
    response = client.get(
        reverse("console-agent", args=[agent.publisher.slug, agent.slug])
    )

    # then
    form = response.context["version_form"]
    assert form["version"].value() == "1.4.10"
    shown = form["declaration"].value()
    assert json.loads(shown)["endpoint"] == "https://newest.example.com/a2a"
    assert '\n  "skills"' in shown  # indented, to be read and edited


def test_a_backport_does_not_lower_the_next_number(client: Client) -> None:
    member = MembershipFactory.create(role=Role.MEMBER)
    agent = AgentFactory.create(publisher=member.organization)
    for number in ("2.0.0", "1.0.1", "2.1.0-rc.1"):
        AgentVersionFactory.create(agent=agent, version=number)
    client.force_login(member.user)

    response = client.get(
        reverse("console-agent", args=[agent.publisher.slug, agent.slug])
    )

    assert response.context["version_form"]["version"].value() == "2.0.1"


def test_the_first_version_starts_blank(client: Client) -> None:
    member = MembershipFactory.create(role=Role.MEMBER)
    agent = AgentFactory.create(publisher=member.organization)
    client.force_login(member.user)

    response = client.get(
        reverse("console-agent", args=[agent.publisher.slug, agent.slug])
    )

    assert response.context["version_form"]["version"].value() == "1.0.0"
