"""The demo store: publishers with agents in several domains, in both languages,
published through the same services as real listings."""

from typing import Any

from marketplace.domains import ensure_standard_domains
from marketplace.models import Agent, Domain, Membership, Organization, User
from marketplace.services import agents as agent_services
from marketplace.services import publishing
from marketplace.services.organizations import organization_create

PUBLISHERS = [
    ("mingde-ai", "Mingde AI Ltd.", "明德智能"),
    ("yunqi-tech", "Yunqi Technology", "云启科技"),
    ("hangzhou-lingxi", "Hangzhou Lingxi AI", "杭州灵犀智能"),
    ("beacon-labs", "Beacon Labs", "灯塔实验室"),
    ("shenzhen-zhiyuan", "Shenzhen Zhiyuan Software", "深圳智远软件"),
    ("northwind-agents", "Northwind Agents", "北风智能体"),
    ("jiangnan-health", "Jiangnan Health Tech", "江南健康科技"),
    ("silkroad-travel", "Silk Road Travel AI", "丝路出行智能"),
    ("redbrick-edu", "Red Brick Education", "红砖教育"),
    ("pearl-finance", "Pearl River Fintech", "珠江金融科技"),
    ("open-desk", "Open Desk Studio", "开放工作室"),
    ("qingcheng-media", "Qingcheng Media Lab", "青城传媒实验室"),
]

# slug, name, summary, domain, protocols, deployment, skill (id, name, description)
TEMPLATES: list[tuple[str, str, str, str, list[str], str, tuple[str, str, str]]] = [
    (
        "mail-assistant",
        "邮件助手 Mail Assistant",
        "自动起草客户邮件回复 Drafts replies to customer e-mails",
        "office",
        ["a2a"],
        "cloud",
        (
            "draft-reply",
            "起草回复 Draft replies",
            "Drafts polite replies in Chinese or English",
        ),
    ),
    (
        "meeting-notes",
        "会议纪要 Meeting Notes",
        "整理会议录音并生成纪要 Turns recordings into minutes",
        "office",
        ["a2a", "mcp"],
        "cloud",
        (
            "minutes",
            "生成纪要 Write minutes",
            "Summarises who said what and the decisions",
        ),
    ),
    (
        "contract-reader",
        "合同审阅 Contract Reader",
        "标出合同中的风险条款 Flags risky clauses in contracts",
        "office",
        ["mcp"],
        "private",
        (
            "review",
            "审阅条款 Review clauses",
            "Finds unusual terms and missing clauses",
        ),
    ),
    (
        "spreadsheet-helper",
        "表格助手 Spreadsheet Helper",
        "用自然语言分析表格 Analyses spreadsheets in plain words",
        "office",
        ["mcp"],
        "on_device",
        ("analyse", "分析数据 Analyse data", "Answers questions about a sheet"),
    ),
    (
        "trip-planner",
        "行程规划 Trip Planner",
        "规划行程并比较酒店 Plans trips and compares hotels",
        "lifestyle",
        ["a2a"],
        "cloud",
        ("plan", "规划行程 Plan a trip", "Builds a day-by-day itinerary"),
    ),
    (
        "recipe-coach",
        "菜谱教练 Recipe Coach",
        "根据冰箱里的食材推荐菜谱 Suggests recipes from what you have",
        "lifestyle",
        ["a2a"],
        "cloud",
        ("suggest", "推荐菜谱 Suggest recipes", "Suggests dishes and shopping lists"),
    ),
    (
        "home-repair",
        "家修顾问 Home Repair Advisor",
        "诊断家电故障 Diagnoses household appliance faults",
        "lifestyle",
        ["openapi"],
        "cloud",
        ("diagnose", "故障诊断 Diagnose", "Asks questions and suggests fixes"),
    ),
    (
        "story-teller",
        "故事精灵 Story Teller",
        "为孩子讲睡前故事 Tells bedtime stories",
        "entertainment",
        ["a2a"],
        "cloud",
        ("tell", "讲故事 Tell a story", "Tells a short story for the age given"),
    ),
    (
        "music-mate",
        "音乐搭子 Music Mate",
        "按心情推荐歌单 Recommends playlists for your mood",
        "entertainment",
        ["mcp"],
        "cloud",
        ("playlist", "推荐歌单 Make a playlist", "Builds a playlist from a mood"),
    ),
    (
        "math-tutor",
        "数学辅导 Math Tutor",
        "一步步讲解数学题 Explains maths problems step by step",
        "education",
        ["a2a"],
        "cloud",
        ("explain", "讲解题目 Explain", "Explains a solution step by step"),
    ),
    (
        "english-speaking",
        "口语陪练 Speaking Partner",
        "英语口语练习与纠音 Practise spoken English",
        "education",
        ["a2a", "anp"],
        "hybrid",
        ("practise", "口语练习 Practise", "Holds a conversation and corrects"),
    ),
    (
        "news-digest",
        "新闻摘要 News Digest",
        "每日新闻要点摘要 A daily digest of the news",
        "media",
        ["a2a"],
        "cloud",
        ("digest", "新闻摘要 Digest", "Summarises the day's reports with sources"),
    ),
    (
        "symptom-guide",
        "健康咨询 Symptom Guide",
        "常见症状就医指引 Guidance on when to see a doctor",
        "medical",
        ["aip"],
        "cloud",
        ("triage", "就医指引 Triage", "Suggests the right department to visit"),
    ),
    (
        "expense-tracker",
        "记账助手 Expense Tracker",
        "自动分类日常开销 Sorts everyday spending",
        "finance",
        ["a2a"],
        "on_device",
        ("categorise", "分类记账 Categorise", "Sorts expenses into categories"),
    ),
    (
        "bus-route",
        "公交出行 Bus Route Helper",
        "实时公交换乘建议 Live bus transfer advice",
        "transport",
        ["openapi"],
        "cloud",
        ("route", "换乘建议 Route", "Suggests routes with live arrivals"),
    ),
]

HIGH_TIER_FILING = "浙ICP备2026000001号-1"


def load_catalogue(
    *, owner: User, reviewer: User, agents_per_publisher: int = 10
) -> int:
    """Publish the demo store; idempotent. Returns how many agents were created."""
    created = 0
    ensure_standard_domains()
    domains = {domain.code: domain for domain in Domain.objects.all()}
    for index, (slug, name_en, name_zh) in enumerate(PUBLISHERS):
        publisher = Organization.objects.filter(slug=slug).first()
        if publisher is None:
            publisher = organization_create(
                actor=owner,
                name=name_en,
                slug=slug,
                kind=Organization.Kind.PUBLISHER,
                description=f"{name_zh}: {name_en}",
                website=f"https://{slug}.example.com",
            )
        elif not Membership.objects.filter(user=owner, organization=publisher).exists():
            continue  # someone else's organisation with the same slug
        for offset in range(agents_per_publisher):
            template = TEMPLATES[(index + offset) % len(TEMPLATES)]
            if Agent.objects.filter(publisher=publisher, slug=template[0]).exists():
                continue
            _publish(owner, reviewer, publisher, domains, template)
            created += 1
    return created


def _publish(
    owner: User,
    reviewer: User,
    publisher: Organization,
    domains: dict[str, Domain],
    template: tuple[str, str, str, str, list[str], str, tuple[str, str, str]],
) -> None:
    slug, name, summary, domain_code, protocols, deployment, skill = template
    domain = domains[domain_code]
    agent = agent_services.agent_create(
        actor=owner,
        publisher=publisher,
        slug=slug,
        name=name,
        summary=summary,
        domain=domain,
        description=f"**{name}**\n\n{summary}.",
        tags=[domain_code, *protocols],
        homepage=f"https://{publisher.slug}.example.com/{slug}",
        privacy_policy_url=f"https://{publisher.slug}.example.com/privacy",
        terms_url=f"https://{publisher.slug}.example.com/terms",
        age_rating=Agent.AgeRating.ALL if domain_code == "education" else "18+",
        anti_addiction_measures=(
            "每日使用提醒，22:00 后暂停服务。Daily reminders; paused after 22:00."
            if domain_code == "education"
            else ""
        ),
        filing_number=HIGH_TIER_FILING if domain.requires_filing else "",
    )
    declaration: dict[str, Any] = {
        "skills": [
            {
                "id": skill[0],
                "name": skill[1],
                "description": skill[2],
                "tags": [domain_code],
                "permissions": ["profile.read"],
            }
        ],
        "inputModes": ["text/plain"],
        "outputModes": ["text/plain"],
        "protocols": [{"type": p, "version": "1.0"} for p in protocols],
        "endpoint": f"https://{publisher.slug}.example.com/agents/{slug}",
        "deployment": deployment,
        "permissions": [
            {
                "scope": "profile.read",
                "purpose": "称呼用户 Address the user by name",
                "authority": "autonomous",
            }
        ],
        "dependencies": {"models": [{"name": "qwen3", "provider": "Alibaba Cloud"}]},
    }
    version = agent_services.version_create(
        actor=owner, agent=agent, version="1.0.0", declaration=declaration
    )
    publishing.version_submit(actor=owner, version=version)
    publishing.version_run_checks(version_id=version.pk)
    version.refresh_from_db()
    publishing.version_review(actor=reviewer, version=version, verdict="approve")
