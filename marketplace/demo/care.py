"""The demo of care for vulnerable users: a companion agent that declares every
safeguard against dependence, and a user in the elder-friendly mode who can install
it (and is asked a second time before it may act on its own)."""

from typing import Any

from django.utils import timezone

from marketplace.domains import ensure_standard_domains
from marketplace.models import AgentVersion, Domain, Membership, Organization, User
from marketplace.services import agents as agent_services
from marketplace.services import publishing
from marketplace.services.accounts import user_create, user_update_profile

# The publisher of everyday-life assistants in the demo store.
PUBLISHER = "hangzhou-lingxi"
AGENT = "companion-chat"
ELDER_USERNAME = "grandpa-wang"
ELDER_BIRTH_YEAR = 1948

COMPANION_DECLARATION: dict[str, Any] = {
    "skills": [
        {
            "id": "daily-chat",
            "name": "日常聊天 Daily chat",
            "description": "陪您聊家常、听您倾诉，按时提醒休息。"
            "Chats about your day, listens, and reminds you to take breaks.",
            "tags": ["lifestyle", "companion"],
            "permissions": ["chat.history.read", "reminders.send"],
        }
    ],
    "inputModes": ["text/plain"],
    "outputModes": ["text/plain"],
    "protocols": [{"type": "a2a", "version": "1.0"}],
    "endpoint": f"https://{PUBLISHER}.example.com/agents/{AGENT}",
    "deployment": "cloud",
    "permissions": [
        {
            "scope": "chat.history.read",
            "purpose": "读取以往聊天以延续话题 Read past chats to carry on the "
            "conversation",
            "authority": "autonomous",
        },
        {
            "scope": "reminders.send",
            "purpose": "按时发送问候与休息提醒 Send greetings and break reminders "
            "on time",
            "authority": "autonomous",
            "required": False,
        },
    ],
    "dependencies": {"models": [{"name": "qwen3", "provider": "Alibaba Cloud"}]},
    "pricing": {"model": "free", "inAppPurchases": {"offered": False}},
    "wellbeing": {
        "companion": True,
        "usageReminderMinutes": 30,
        "sessionLimitMinutes": 60,
        "humanHelp": "心理援助热线 12356（24 小时）；人工客服 400-000-0000。"
        "Psychological help line 12356 (24 hours); our service desk "
        "400-000-0000.",
        "neverClaimsHuman": True,
    },
}


def load_care(*, owner: User, reviewer: User, password: str) -> int:
    """Publish the companion agent "陪伴聊天 Companion Chat" (lifestyle) under the
    demo publisher ``hangzhou-lingxi``, through the publishing pipeline, and create
    the user ``grandpa-wang`` (born 1948, elder-friendly mode on, e-mail address
    confirmed) with ``password``. Idempotent; returns how many rows it created (the
    agent and the user). Nothing is published when the publisher is missing or is
    not ``owner``'s."""
    created = 0
    publisher = Organization.objects.filter(slug=PUBLISHER).first()
    if (
        publisher is not None
        and Membership.objects.filter(user=owner, organization=publisher).exists()
        and not publisher.agents.filter(slug=AGENT).exists()
    ):
        _publish(owner=owner, reviewer=reviewer, publisher=publisher)
        created += 1
    if not User.objects.filter(username=ELDER_USERNAME).exists():
        user = user_create(
            username=ELDER_USERNAME,
            email=f"{ELDER_USERNAME}@example.com",
            password=password,
            birth_year=ELDER_BIRTH_YEAR,
            preferred_language="zh-hans",
        )
        user_update_profile(
            user=user,
            birth_year=ELDER_BIRTH_YEAR,
            preferred_language="zh-hans",
            elder_mode=True,
            daily_use_reminder_minutes=None,
        )
        # Demo accounts are ready to use: the address counts as confirmed.
        User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
        created += 1
    return created


def _publish(*, owner: User, reviewer: User, publisher: Organization) -> None:
    ensure_standard_domains()
    agent = agent_services.agent_create(
        actor=owner,
        publisher=publisher,
        slug=AGENT,
        name="陪伴聊天 Companion Chat",
        summary="陪您聊天解闷的陪伴型智能体 A companion to chat with when you "
        "feel like talking",
        domain=Domain.objects.get(code="lifestyle"),
        description=(
            "**陪伴聊天 Companion Chat**\n\n"
            "陪您聊家常、听您倾诉；每 30 分钟提醒您用了多久，每次最多 60 分钟，"
            "随时可以转人工帮助。它不会假装是真人。\n\n"
            "Chats about your day and listens; tells you every 30 minutes how long "
            "you have talked, ends a session after 60 minutes, and puts you through "
            "to a person whenever you ask. It never pretends to be human."
        ),
        tags=["lifestyle", "companion", "a2a"],
        homepage=f"https://{publisher.slug}.example.com/{AGENT}",
        privacy_policy_url=f"https://{publisher.slug}.example.com/privacy",
        terms_url=f"https://{publisher.slug}.example.com/terms",
        age_rating="all",
        anti_addiction_measures=(
            "每 30 分钟提醒休息，单次最长 60 分钟，21:00 至次日 7:00 暂停服务。"
            "A break reminder every 30 minutes; sessions end after 60 minutes; "
            "paused from 21:00 to 07:00."
        ),
    )
    version = agent_services.version_create(
        actor=owner, agent=agent, version="1.0.0", declaration=COMPANION_DECLARATION
    )
    publishing.version_submit(actor=owner, version=version)
    state = publishing.version_run_checks(version_id=version.pk)
    if state != AgentVersion.State.IN_REVIEW:
        raise RuntimeError(f"The demo agent {publisher.slug}/{AGENT} failed a check.")
    publishing.version_review(actor=reviewer, version=version, verdict="approve")
