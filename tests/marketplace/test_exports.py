"""One agent identity, several protocol views: the MCP registry's server.json, the ANP
agent description and the ACPs capability specification of a version, and the ACPs
identity code (AIC) the registry gives an agent on its first approval."""

import binascii
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import IntegrityError
from django.test import Client
from django.urls import reverse
from jsonschema import Draft7Validator, FormatChecker

from config.settings.base import acps_aic_salt, acps_registrar_oid
from marketplace.models import Agent, AgentEvent, AgentVersion, Membership, Organization
from marketplace.protocols import acps, mcp
from marketplace.services import publishing
from tests.marketplace.factories import (
    AgentFactory,
    AgentVersionFactory,
    MembershipFactory,
    OrganizationFactory,
    declaration,
)

pytestmark = pytest.mark.django_db

State = AgentVersion.State
SCHEMA_PATH = Path(__file__).parent / "schemas" / "mcp-server.schema.json"
SCHEMA_SHA256 = "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0"
ARC = "1.2.156.3088.1.1"
SALT_HEX = "1234"
EXPORTS = ("version-server-json", "version-agent-description", "version-acs")

MCP_DECLARATION = declaration(
    skills=[
        {
            "id": "reply",
            "name": "起草回复",
            "description": "根据邮件内容起草礼貌的中文回复。",
            "tags": ["邮件", "客服"],
            "examples": ["帮我回复这封投诉邮件"],
            "permissions": ["mail.read", "mail.send"],
        }
    ],
    protocols=[
        {"type": "a2a", "version": "1.0"},
        {
            "type": "mcp",
            "version": "2025-06-18",
            "url": "https://agent.example.com/mcp",
        },
    ],
)
LONG_CHINESE_SUMMARY = (
    "为中小企业客服团队自动起草邮件回复：读取来信，识别客户的问题与情绪，结合知识库给出"
    "礼貌、准确、符合公司语气的中文回复草稿；涉及退款、投诉升级和合同条款的邮件只起草不"
    "发送，须由客服人员确认后才会发出，所有操作都有记录可查，便于质检与培训使用。"
)


@pytest.fixture
def arc(settings: Any) -> str:
    settings.ACPS_REGISTRAR_OID = ARC
    settings.ACPS_AIC_SALT = SALT_HEX
    return ARC


def _published(
    decl: dict[str, Any] | None = None,
    state: str = State.PUBLISHED,
    **agent: object,
) -> AgentVersion:
    return AgentVersionFactory.create(
        state=state,
        declaration=decl or MCP_DECLARATION,
        **{f"agent__{key}": value for key, value in agent.items()},
    )


def _url(name: str, version: AgentVersion) -> str:
    agent = version.agent
    return reverse(name, args=[agent.publisher.slug, agent.slug, version.version])


def _reviewer() -> Membership:
    operator = OrganizationFactory.create(kind=Organization.Kind.OPERATOR)
    return MembershipFactory.create(
        organization=operator, role=Membership.Role.REVIEWER
    )


def _approve(version: AgentVersion, reviewer: Membership) -> AgentVersion:
    AgentVersion.objects.filter(pk=version.pk).update(state=State.IN_REVIEW)
    version.refresh_from_db()
    return publishing.version_review(
        actor=reviewer.user, version=version, verdict="approve"
    )


def _schema_validator() -> Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft7Validator(schema, format_checker=FormatChecker())


def _check_code(data_code: str, salt: bytes) -> str:
    """The spec's check characters, computed here with the standard library's
    CRC-CCITT (binascii.crc_hqx with 0xFFFF is CRC-16/CCITT-FALSE)."""
    value = binascii.crc_hqx(data_code.upper().encode() + salt, 0xFFFF)
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while value:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
    return out.rjust(4, "0")


# --- server.json ------------------------------------------------------------------


def test_the_vendored_schema_is_the_published_file() -> None:
    # given the copy kept beside the tests
    data = SCHEMA_PATH.read_bytes()
    # then it is byte for byte the schema the MCP registry published
    assert hashlib.sha256(data).hexdigest() == SCHEMA_SHA256
    assert json.loads(data)["$id"] == mcp.SCHEMA


def test_server_json_of_a_chinese_listing_is_valid_against_the_official_schema(
    client: Client,
) -> None:
    # given a published version that speaks MCP, with a Chinese name and a long summary
    version = _published(
        name="邮件助手",
        summary=LONG_CHINESE_SUMMARY,
        homepage="https://mail.example.cn/",
    )
    # when its server.json is fetched
    response = client.get(_url("version-server-json", version))
    # then it validates against the MCP registry's schema
    assert response.status_code == 200
    document = response.json()
    errors = sorted(_schema_validator().iter_errors(document), key=str)
    assert errors == []
    agent = version.agent
    assert document["$schema"] == mcp.SCHEMA
    assert document["name"] == f"testserver/{agent.publisher.slug}.{agent.slug}"
    assert document["title"] == "邮件助手"
    assert document["version"] == version.version
    assert document["websiteUrl"] == "https://mail.example.cn/"
    # and the summary is cut to 100 characters after a punctuation mark
    description = document["description"]
    assert len(description) <= 100
    assert len(LONG_CHINESE_SUMMARY) > 100
    assert description.endswith("…")
    assert LONG_CHINESE_SUMMARY.startswith(description[:-1])
    assert LONG_CHINESE_SUMMARY[len(description) - 1] in "，。；：、"
    assert document["remotes"] == [
        {"type": "streamable-http", "url": "https://agent.example.com/mcp"}
    ]
    facts = document["_meta"]["testserver/registry"]
    assert facts["did"] == agent.identifier
    assert facts["declarationDigest"] == version.declaration_digest
    assert facts["status"] == "published"
    assert facts["isLatest"] is True
    assert "aic" not in facts


def test_server_json_names_the_site_host_reversed_without_its_port(
    client: Client, settings: Any
) -> None:
    # given a site at a host with a port
    settings.SITE_HOST = "Store.Example.com:8443"
    version = _published(publisher__slug="mingde-ai", slug="mail")
    # when its server.json is read
    document = mcp.server_json(version)
    # then the namespace is the host reversed, and the document still validates
    assert document["name"] == "com.example.store/mingde-ai.mail"
    assert "com.example.store/registry" in document["_meta"]
    assert list(_schema_validator().iter_errors(document)) == []


def test_server_json_uses_sse_for_the_http_with_sse_revision(client: Client) -> None:
    # given a version declaring the MCP revision that used HTTP with SSE, no URL
    version = _published(
        declaration(protocols=[{"type": "mcp", "version": "2024-11-05"}])
    )
    # when its server.json is fetched
    document = client.get(_url("version-server-json", version)).json()
    # then the remote is the declared endpoint over SSE
    assert document["remotes"] == [
        {"type": "sse", "url": "https://agent.example.com/a2a"}
    ]
    assert list(_schema_validator().iter_errors(document)) == []


def test_an_english_summary_is_cut_between_words() -> None:
    # given a summary longer than the schema allows
    text = "Drafts polite replies to customer e-mails " * 5
    # when it is clipped
    clipped = mcp.clip(text)
    # then it fits, ends at a word boundary and says it was cut
    assert len(clipped) <= 100
    assert clipped.endswith("…")
    assert text.startswith(clipped[:-1])
    assert text[len(clipped) - 1] == " "
    assert mcp.clip("Short enough.") == "Short enough."


def test_server_json_is_404_for_a_version_without_mcp(client: Client) -> None:
    # given a published version that speaks only A2A
    version = _published(declaration())
    # when its server.json is asked for
    response = client.get(_url("version-server-json", version))
    # then there is none, while the other views exist
    assert response.status_code == 404
    assert client.get(_url("version-agent-description", version)).status_code == 200


# --- where the exports are not served ---------------------------------------------


@pytest.mark.parametrize("name", EXPORTS)
@pytest.mark.parametrize(
    "state", [State.DRAFT, State.SUBMITTED, State.IN_REVIEW, State.REJECTED]
)
def test_unpublished_versions_have_no_exports(
    client: Client, arc: str, name: str, state: str
) -> None:
    # given an agent with a published version (and a code) and one that is not
    published = _published()
    agent = published.agent
    agent.aic = acps.aic_for(agent)
    agent.save(update_fields=["aic"])
    other = AgentVersionFactory.create(
        agent=agent, state=state, declaration=MCP_DECLARATION
    )
    # when the unpublished version's export is asked for
    response = client.get(_url(name, other))
    # then it is not found, while the published version's is
    assert response.status_code == 404
    assert client.get(_url(name, published)).status_code == 200


@pytest.mark.parametrize("name", EXPORTS)
def test_a_quarantined_agent_serves_no_exports(
    client: Client, arc: str, name: str
) -> None:
    # given a published agent with a code, then quarantined
    version = _published()
    agent = version.agent
    Agent.objects.filter(pk=agent.pk).update(
        aic=acps.aic_for(agent), status=Agent.Status.QUARANTINED
    )
    # when an export is asked for
    response = client.get(_url(name, version))
    # then it is not found
    assert response.status_code == 404


@pytest.mark.parametrize("name", EXPORTS)
def test_unknown_versions_and_agents_are_404(client: Client, name: str) -> None:
    # given a published agent
    version = _published()
    agent = version.agent
    # when a version or an agent that does not exist is asked for
    unknown_version = reverse(name, args=[agent.publisher.slug, agent.slug, "9.9.9"])
    unknown_agent = reverse(name, args=[agent.publisher.slug, "nobody", "1.0.0"])
    # then both are not found
    assert client.get(unknown_version).status_code == 404
    assert client.get(unknown_agent).status_code == 404


def test_a_yanked_version_keeps_its_exports_public_and_cacheable(
    client: Client,
) -> None:
    # given an agent whose older version was yanked after a newer one came out
    yanked = _published(state=State.YANKED)
    AgentVersionFactory.create(
        agent=yanked.agent, state=State.PUBLISHED, declaration=MCP_DECLARATION
    )
    # when the yanked version's server.json is read
    response = client.get(_url("version-server-json", yanked))
    # then it is served to anyone, from any origin, with cache headers
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "public" in response["Cache-Control"]
    assert "max-age=300" in response["Cache-Control"]
    facts = response.json()["_meta"]["testserver/registry"]
    assert (facts["status"], facts["isLatest"]) == ("yanked", False)


def test_exports_answer_only_get(client: Client) -> None:
    version = _published()
    assert client.post(_url("version-agent-description", version)).status_code == 405


# --- the ANP agent description ------------------------------------------------------


def test_the_agent_description_is_json_ld_with_one_interface_per_protocol(
    client: Client,
) -> None:
    # given a published Chinese listing speaking A2A and MCP, one of whose
    # permissions needs the user's confirmation
    version = _published(name="邮件助手", description="帮助客服团队回复邮件。")
    agent = version.agent
    # when its agent description is fetched
    response = client.get(_url("version-agent-description", version))
    # then it is the ANP document, at its own address, with the agent's identity
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    document = response.json()
    assert document["@context"]["ad"] == "https://agent-network-protocol.com/ad#"
    assert document["@type"] == "ad:AgentDescription"
    assert (
        document["@id"]
        == f"http://testserver{_url('version-agent-description', version)}"
    )
    assert (document["protocolType"], document["type"]) == ("ANP", "AgentDescription")
    assert document["name"] == "邮件助手"
    assert document["description"] == "帮助客服团队回复邮件。"
    assert document["did"] == agent.identifier
    assert document["owner"]["name"] == agent.publisher.name
    assert document["version"] == version.version
    assert document["created"].endswith("Z")
    assert document["securityDefinitions"] == {}
    assert "proof" not in document
    a2a, mcp_interface = document["interfaces"]
    assert a2a["@type"] == "ad:NaturalLanguageInterface"
    assert a2a["protocol"] == "A2A"
    assert a2a["url"] == f"http://testserver{_url('version-agent-card', version)}"
    assert mcp_interface["@type"] == "ad:StructuredInterface"
    assert mcp_interface["protocol"] == "MCP"
    assert mcp_interface["url"] == (
        f"http://testserver{_url('version-server-json', version)}"
    )
    assert a2a["humanAuthorization"] is True
    assert mcp_interface["humanAuthorization"] is True


def test_interfaces_need_no_human_authorization_when_every_permission_is_autonomous(
    client: Client,
) -> None:
    # given a version whose only permission the agent exercises on its own
    version = _published(
        declaration(
            skills=[
                {
                    "id": "read",
                    "name": "Read",
                    "description": "Reads mail.",
                    "permissions": ["mail.read"],
                }
            ],
            permissions=[
                {"scope": "mail.read", "purpose": "Read", "authority": "autonomous"}
            ],
            protocols=[{"type": "openapi", "url": "https://agent.example.com/api"}],
        )
    )
    # when its agent description is fetched
    document = client.get(_url("version-agent-description", version)).json()
    # then its interface points at the declared address and needs no human
    (interface,) = document["interfaces"]
    assert interface["protocol"] == "OpenAPI"
    assert interface["url"] == "https://agent.example.com/api"
    assert "humanAuthorization" not in interface


# --- the ACPs capability specification ---------------------------------------------


def test_the_acs_carries_the_aic_and_the_filing_number(
    client: Client, arc: str
) -> None:
    # given an agent approved while the operator holds an arc
    member = MembershipFactory.create()
    version = AgentVersionFactory.create(
        agent__publisher=member.organization,
        agent__name="邮件助手",
        agent__filing_number="网信算备110108000000001230001号",
        declaration=MCP_DECLARATION,
    )
    version = _approve(version, _reviewer())
    agent = Agent.objects.get(pk=version.agent_id)
    # when its ACS is fetched
    response = client.get(_url("version-acs", version))
    # then it names the agent by its code and the provider by its filing number
    assert response.status_code == 200
    spec = response.json()
    assert agent.aic
    assert spec["aic"] == agent.aic
    assert spec["active"] is True
    assert spec["protocolVersion"] == "02.02"
    assert spec["name"] == "邮件助手"
    assert spec["version"] == version.version
    assert spec["lastModifiedTime"].endswith("+08:00")
    assert spec["provider"]["organization"] == member.organization.name
    assert spec["provider"]["license"] == "网信算备110108000000001230001号"
    assert spec["provider"]["url"].endswith(
        f"/organizations/{member.organization.slug}/"
    )
    assert spec["securitySchemes"] == {}
    assert spec["endPoints"] == [
        {"url": "https://agent.example.com/a2a", "transport": "JSONRPC"},
        {"url": "https://agent.example.com/mcp", "transport": "JSONRPC"},
    ]
    assert spec["capabilities"] == {
        "streaming": False,
        "notification": False,
        "messageQueue": [],
    }
    assert spec["defaultInputModes"] == ["text/plain"]
    assert spec["skills"] == [
        {
            "id": "reply",
            "name": "起草回复",
            "description": "根据邮件内容起草礼貌的中文回复。",
            "version": version.version,
            "tags": ["邮件", "客服"],
            "examples": ["帮我回复这封投诉邮件"],
        }
    ]


def test_there_is_no_acs_for_an_agent_without_a_code(client: Client) -> None:
    # given a published agent and no arc configured
    version = _published()
    # when its ACS is asked for
    response = client.get(_url("version-acs", version))
    # then there is none
    assert version.agent.aic is None
    assert response.status_code == 404


def test_the_acs_of_a_yanked_version_is_not_active(client: Client, arc: str) -> None:
    version = _published(state=State.YANKED)
    AgentVersionFactory.create(
        agent=version.agent, state=State.PUBLISHED, declaration=MCP_DECLARATION
    )
    Agent.objects.filter(pk=version.agent_id).update(aic=acps.aic_for(version.agent))
    spec = client.get(_url("version-acs", version)).json()
    assert spec["active"] is False
    assert "license" not in spec["provider"]  # no filing number, no license


# --- the ACPs identity code ---------------------------------------------------------


def test_the_check_code_follows_the_specification_example() -> None:
    # given the example of ACPs-spec-AIC section 4.1 (salt 0x1234)
    data_code = "1.2.156.3088.1.1.34C2.478BDF.3GF546"
    # then the CRC and its base-36 form are the specification's
    assert acps.crc16_ccitt_false(data_code.encode() + b"\x12\x34") == 0x646C
    assert acps.aic_check_code(data_code, salt=b"\x12\x34") == "0JU4"
    assert acps.aic_valid(f"{data_code}.0JU4", salt=b"\x12\x34")
    assert acps.aic_valid("1.2.156.3088.1.1.34C2.478bDF.3GF546.0ju4", salt=b"\x12\x34")
    assert not acps.aic_valid(f"{data_code}.0JU5", salt=b"\x12\x34")
    assert not acps.aic_valid(f"{data_code}.0JU4", salt=b"\x12\x35")


def test_approval_gives_the_agent_a_code_under_the_arc(arc: str) -> None:
    # given a version in review and an operator holding an arc
    version = AgentVersionFactory.create(declaration=MCP_DECLARATION)
    reviewer = _reviewer()
    # when it is approved
    _approve(version, reviewer)
    # then the agent has a code: the arc, the publisher, the agent, 0, a check code
    agent = Agent.objects.get(pk=version.agent_id)
    assert agent.aic is not None
    data_code, check = agent.aic.rsplit(".", 1)
    assert data_code == (
        f"{ARC}.{acps.base36(agent.publisher_id)}.{acps.base36(agent.pk)}.0"
    )
    assert check == _check_code(data_code, bytes.fromhex(SALT_HEX))
    # and the assignment is recorded in the same transaction as the approval
    event = AgentEvent.objects.get(agent=agent, action="aic_assigned")
    assert event.actor == reviewer.user
    assert event.payload == {"aic": agent.aic}


def test_no_code_is_given_without_an_arc() -> None:
    # given no arc configured
    version = AgentVersionFactory.create(declaration=MCP_DECLARATION)
    # when a version is approved
    _approve(version, _reviewer())
    # then the agent has no code and no event says otherwise
    agent = Agent.objects.get(pk=version.agent_id)
    assert agent.aic is None
    assert not AgentEvent.objects.filter(action="aic_assigned").exists()


def test_a_rejection_gives_no_code(arc: str) -> None:
    version = AgentVersionFactory.create(declaration=MCP_DECLARATION)
    AgentVersion.objects.filter(pk=version.pk).update(state=State.IN_REVIEW)
    publishing.version_review(
        actor=_reviewer().user, version=version, verdict="reject", reasons="No"
    )
    assert Agent.objects.get(pk=version.agent_id).aic is None


def test_a_later_approval_never_changes_the_code(arc: str, settings: Any) -> None:
    # given an agent that received its code on its first approval
    first = AgentVersionFactory.create(version="1.0.0", declaration=MCP_DECLARATION)
    reviewer = _reviewer()
    _approve(first, reviewer)
    code = Agent.objects.get(pk=first.agent_id).aic
    # when the operator's arc changes and a later version is approved
    settings.ACPS_REGISTRAR_OID = "1.2.156.3088.1.2"
    later = AgentVersionFactory.create(
        agent=first.agent, version="1.1.0", declaration=MCP_DECLARATION
    )
    _approve(later, reviewer)
    # then the agent keeps its first code, assigned once
    assert Agent.objects.get(pk=first.agent_id).aic == code
    assert AgentEvent.objects.filter(action="aic_assigned").count() == 1


def test_codes_are_unique(arc: str) -> None:
    # given two agents of the same publisher, both approved
    publisher = OrganizationFactory.create()
    reviewer = _reviewer()
    one = _approve(
        AgentVersionFactory.create(agent__publisher=publisher), reviewer
    ).agent_id
    two = _approve(
        AgentVersionFactory.create(agent__publisher=publisher), reviewer
    ).agent_id
    # then their codes differ, and the database refuses a copy
    codes = {Agent.objects.get(pk=pk).aic for pk in (one, two)}
    assert len(codes) == 2
    assert None not in codes
    with pytest.raises(IntegrityError):
        Agent.objects.filter(pk=two).update(aic=Agent.objects.get(pk=one).aic)


def test_the_code_appears_in_the_did_document_and_the_lookup_record(
    client: Client, arc: str
) -> None:
    # given an agent with a code
    version = _approve(AgentVersionFactory.create(), _reviewer())
    agent = Agent.objects.select_related("publisher").get(pk=version.agent_id)
    args = [agent.publisher.slug, agent.slug]
    # when its DID document and lookup record are read
    document = client.get(reverse("agent-did", args=args)).json()
    record = client.get(reverse("agent-profile", args=args)).json()
    # then both name the code
    assert f"urn:oid:{agent.aic}" in document["alsoKnownAs"]
    assert record["aic"] == agent.aic


def test_the_lookup_record_says_so_when_there_is_no_code(client: Client) -> None:
    agent = _published().agent
    args = [agent.publisher.slug, agent.slug]
    record = client.get(reverse("agent-profile", args=args)).json()
    document = client.get(reverse("agent-did", args=args)).json()
    assert record["aic"] is None
    assert not any(alias.startswith("urn:oid:") for alias in document["alsoKnownAs"])


def test_assign_aic_fills_missing_codes_once(settings: Any) -> None:
    # given agents published before the operator held an arc, and a draft-only one
    published = [_published().agent for _ in range(2)]
    draft_only = AgentFactory.create()
    settings.ACPS_REGISTRAR_OID = ARC
    settings.ACPS_AIC_SALT = SALT_HEX
    # when the command runs twice
    out = io.StringIO()
    call_command("assign_aic", stdout=out)
    codes = {a.pk: Agent.objects.get(pk=a.pk).aic for a in published}
    call_command("assign_aic", stdout=out)
    # then the published agents got a code once, and the unpublished one none
    assert all(codes.values())
    assert {a.pk: Agent.objects.get(pk=a.pk).aic for a in published} == codes
    assert Agent.objects.get(pk=draft_only.pk).aic is None
    assert AgentEvent.objects.filter(action="aic_assigned").count() == 2
    assert out.getvalue().splitlines() == [
        "Assigned 2 ACPs identity code(s).",
        "Assigned 0 ACPs identity code(s).",
    ]


def test_assign_aic_refuses_to_run_without_an_arc() -> None:
    with pytest.raises(CommandError, match="ACPS_REGISTRAR_OID"):
        call_command("assign_aic")


@pytest.mark.parametrize(
    "value",
    [
        "1.2.156.x",
        "1..2",
        "1.2.",
        ".1.2",
        "42",
        "3.1.2",
        "1.40.2",
        "1.02.3",
        "1.2.156 .3088",
        "1.2." + "9" * 100,
        "１.２.１５６",
    ],
)
def test_a_bad_registrar_oid_is_refused_at_start_up(value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="ACPS_REGISTRAR_OID"):
        acps_registrar_oid(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ""),
        ("  ", ""),
        (" 1.2.156.3088.1.1 ", "1.2.156.3088.1.1"),
        ("2.999", "2.999"),
    ],
)
def test_a_good_registrar_oid_is_kept(value: str, expected: str) -> None:
    assert acps_registrar_oid(value) == expected


def test_the_salt_is_required_with_an_arc() -> None:
    assert acps_aic_salt("", registrar_oid="") == ""
    assert acps_aic_salt("ABCD", registrar_oid=ARC) == "abcd"
    for bad in ("", "12", "zz99", "123"):
        with pytest.raises(ImproperlyConfigured, match="ACPS_AIC_SALT"):
            acps_aic_salt(bad, registrar_oid=ARC)


# --- the agent page -----------------------------------------------------------------


def test_the_agent_page_shows_the_code_and_links_the_exports(
    client: Client, arc: str
) -> None:
    # given an approved agent speaking MCP, with its code
    version = _approve(
        AgentVersionFactory.create(declaration=MCP_DECLARATION), _reviewer()
    )
    agent = Agent.objects.select_related("publisher").get(pk=version.agent_id)
    # when its page is shown
    page = client.get(reverse("agent-detail", args=[agent.publisher.slug, agent.slug]))
    # then it shows the code and links every export of the current version
    html = page.content.decode()
    assert agent.aic
    assert agent.aic in html
    for name in ("version-agent-card", *EXPORTS):
        assert f'href="{_url(name, version)}"' in html
    assert (
        f'href="{reverse("agent-did", args=[agent.publisher.slug, agent.slug])}"'
        in html
    )
    assert (
        f'href="{reverse("agent-profile", args=[agent.publisher.slug, agent.slug])}"'
        in html
    )
    assert "ACPs identity code" in html


def test_the_agent_page_links_only_the_exports_that_exist(client: Client) -> None:
    # given a published agent speaking only A2A, without a code
    version = _published(declaration())
    agent = version.agent
    # when its page is shown
    html = client.get(
        reverse("agent-detail", args=[agent.publisher.slug, agent.slug])
    ).content.decode()
    # then neither server.json nor the ACS is linked
    assert _url("version-agent-card", version) in html
    assert _url("version-agent-description", version) in html
    assert _url("version-server-json", version) not in html
    assert _url("version-acs", version) not in html
    assert "ACPs identity code" not in html


def test_a_draft_only_agent_page_links_no_exports(client: Client) -> None:
    # given an agent with only a draft, seen by a member of its publisher
    member = MembershipFactory.create()
    draft = AgentVersionFactory.create(
        agent__publisher=member.organization, declaration=MCP_DECLARATION
    )
    client.force_login(member.user)
    # when its page is shown
    html = client.get(
        reverse("agent-detail", args=[member.organization.slug, draft.agent.slug])
    ).content.decode()
    # then no export is linked: drafts have none
    assert "agent-description.json" not in html
    assert "agent-card.json" not in html
