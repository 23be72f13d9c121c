"""The site's own documents in the demo store: version 1 of the platform rules, the
user service agreement, the privacy policy and the publisher agreement, published
by the operator and accepted by the demo's own accounts (and publishers);
and version 2 of the privacy policy, a draft with its summary of changes, for the
operator to publish.

It runs after the rest of the demo data is loaded, so that nothing the other demo
loaders write waits on an acceptance. Idempotent: a version that exists is kept
as it is, and an acceptance is recorded once.
"""

from django.db import transaction

from marketplace.models import (
    AgreementAcceptance,
    AgreementVersion,
    Membership,
    Organization,
    User,
)
from marketplace.selectors.agreements import (
    USER_KINDS,
    agreement_in_force_list,
    agreement_pending_list,
)
from marketplace.services.agreements import (
    agreement_draft_create,
    agreement_publish,
    agreements_accept,
    publisher_agreement_accept,
)

Kind = AgreementVersion.Kind

PLATFORM_RULES = {
    "title_en": "Platform rules",
    "title_zh": "平台规则",
    "body_en": "\n\n".join(
        [
            (
                "These rules apply to everyone who lists, installs, reviews or "
                "reports agents on this store: publishers, users, certification "
                "bodies and industry bodies alike. The operator applies them to "
                "listings, reviews, replies and reports, and publishes each "
                "change as a new version with a summary of what changed."
            ),
            (
                "1. No abuse of technology. An agent must not be built or used "
                "to break into systems, to collect personal information without "
                "a lawful basis, to generate or spread illegal content, to "
                "impersonate people or organisations, or to get around the "
                "safety measures of other services. Declared permissions must "
                "match what the agent actually does."
            ),
            (
                "2. No inducing consumption. An agent must not push people to "
                "spend through fake scarcity, countdowns that restart, hidden "
                "renewals, pressure aimed at minors or at people in distress, or "
                "by making it hard to cancel. Paid features and their prices are "
                "shown before a person pays."
            ),
            (
                "3. No false advertising. Names, descriptions, screenshots, "
                "claims of certification and credit grades must be true and "
                "current. A listing must not claim certificates it does not "
                "hold, endorsements it was not given, or abilities it does not "
                "have."
            ),
            (
                "4. No hidden defects. Publishers disclose known limits, failure "
                "modes, data retention and the models, tools and data sources an "
                "agent depends on. A known security flaw is reported to the "
                "operator and fixed or disclosed without delay; a version with a "
                "serious defect may be recalled."
            ),
            (
                "5. Fair reviews and reports. Reviews describe one's own "
                "experience of an agent one installed. Buying, trading or faking "
                "reviews, and reporting in bad faith, are forbidden."
            ),
            (
                "Breaking these rules can lead to a listing being hidden or "
                "recalled, a review being removed, an account being suspended, "
                "and to a report to the industry body that rates the publisher. "
                "Decisions state their reasons and can be appealed."
            ),
        ]
    ),
    "body_zh": "\n\n".join(
        [
            (
                "本规则适用于在本商店上架、安装、评价或举报智能体的所有人：发布者"
                "、用户、认证机构和行业组织一视同仁。运营方依据本规则处理上架信息"
                "、评价、回复和举报，每次修改都以新版本发布，并附修改摘要。"
            ),
            (
                "一、禁止技术滥用。智能体不得被设计或用于入侵系统、无合法依据收集"
                "个人信息、生成或传播违法内容、冒充他人或其他组织，或规避其他服务"
                "的安全措施。声明的权限必须与智能体的实际行为一致。"
            ),
            (
                "二、禁止诱导消费。智能体不得以虚假稀缺、反复重置的倒计时、隐藏的"
                "自动续费、针对未成年人或处于困境者的施压，或设置取消障碍等方式诱"
                "导消费。付费功能及其价格须在付款前明示。"
            ),
            (
                "三、禁止虚假宣传。名称、介绍、截图、认证声明和信用等级必须真实、"
                "及时。上架信息不得宣称未取得的证书、未获得的背书或不具备的能力。"
            ),
            (
                "四、禁止隐瞒缺陷。发布者应披露已知的局限、失效情形、数据保存方式"
                "，以及智能体所依赖的模型、工具和数据来源。已知的安全缺陷应及时报"
                "告运营方，并尽快修复或公开；存在严重缺陷的版本可被召回。"
            ),
            (
                "五、公正评价与举报。评价应描述本人安装使用该智能体的真实体验。禁"
                "止购买、交换或伪造评价，禁止恶意举报。"
            ),
            (
                "违反本规则的，可能导致上架信息被隐藏或召回、评价被删除、账号被暂"
                "停，并可能被报告给为该发布者评级的行业组织。所有处理决定均说明理"
                "由，当事人可以申诉。"
            ),
        ]
    ),
}


USER_AGREEMENT = {
    "title_en": "User service agreement",
    "title_zh": "用户服务协议",
    "body_en": "\n\n".join(
        [
            (
                "This agreement is between you and the operator of this store. "
                "It covers your account and your use of the store; the agents "
                "you install are provided by their publishers under their own "
                "terms, which each listing links to."
            ),
            (
                "Your account. You give a working e-mail address and keep your "
                "password to yourself. You may declare your year of birth so "
                "that age ratings can be applied; you are responsible for what "
                "is done with your account."
            ),
            (
                "Your rights. You can browse the store without an account. You "
                "see the permissions an agent asks for before you install it, "
                "choose the optional ones, revoke any grant and uninstall at any "
                "time. You can read and download the consent receipts of your "
                "installs, write one review per agent you installed and edit it, "
                "and report misconduct to the industry bodies. You can close "
                "your account; what the law requires us to keep is kept and "
                "nothing more."
            ),
            (
                "Our duties. We review listings before they are published, check "
                "capability declarations against their schema, show certificates "
                "and credit grades as their issuers publish them, and act on "
                "reports. We tell you when an agent you installed changes the "
                "permissions it asks for, is recalled, or is affected by a "
                "security advisory."
            ),
            (
                "Changes. When this agreement, the platform rules or the privacy "
                "policy change, we publish a new version with a summary of the "
                "changes and ask you to accept it before your next install, "
                "review or report. Earlier versions stay readable, and your "
                "acceptance history is shown in your account."
            ),
            (
                "Limits. The store is a registry and a marketplace; an agent's "
                "behaviour is its publisher's responsibility. Nothing in this "
                "agreement limits rights that consumer-protection law gives you."
            ),
        ]
    ),
    "body_zh": "\n\n".join(
        [
            (
                "本协议由您与本商店运营方订立，适用于您的账号及您对本商店的使用；"
                "您安装的智能体由其发布者按其自身条款提供，每个上架页面均链接了相"
                "应条款。"
            ),
            (
                "您的账号。您应提供有效的电子邮件地址并妥善保管密码。您可以填写出"
                "生年份，以便适用年龄分级；您对以您账号进行的操作负责。"
            ),
            (
                "您的权利。您无需账号即可浏览商店。安装前，您可以看到智能体请求的"
                "全部权限，自主选择可选权限，并可随时撤销授权或卸载。您可以查看和"
                "下载安装的同意凭证，对安装过的每个智能体撰写并修改一条评价，并向"
                "行业组织举报不当行为。您可以注销账号；我们仅保留法律要求保留的信"
                "息。"
            ),
            (
                "我们的义务。我们在上架前审核智能体，按规范校验能力声明，如实展示"
                "认证证书和信用等级，并处理举报。当您安装的智能体变更所请求的权限"
                "、被召回或受安全公告影响时，我们会通知您。"
            ),
            (
                "协议变更。本协议、平台规则或隐私政策变更时，我们会发布新版本并附"
                "修改摘要，并在您下一次安装、评价或举报前请您确认接受。旧版本仍可"
                "查阅，您的接受记录显示在账号中。"
            ),
            (
                "责任范围。本商店是登记平台和交易市场，智能体的行为由其发布者负责"
                "。本协议不限制消费者权益保护法律赋予您的任何权利。"
            ),
        ]
    ),
}


PRIVACY_POLICY_V1 = {
    "title_en": "Privacy policy",
    "title_zh": "隐私政策",
    "body_en": "\n\n".join(
        [
            (
                "This policy explains what personal information the store itself "
                "handles, why, and for how long. Agents you install handle data "
                "under their publishers' own privacy policies, which each "
                "listing links to."
            ),
            (
                "What we collect. Your user name, e-mail address and password "
                "(stored only as a salted hash); optionally your year of birth "
                "and preferred language; the installs you make, the permissions "
                "you grant and revoke and their consent receipts; your reviews, "
                "flags and reports with their evidence; and the acceptances of "
                "our documents. Our servers log requests (address, time, page) "
                "for security."
            ),
            (
                "Why. To run your account, apply age ratings, give agents the "
                "access you granted and nothing more, show and moderate reviews, "
                "pass reports to the industry body that handles them, and keep "
                "the store secure. We do not sell personal information and do "
                "not use it for advertising."
            ),
            (
                "Sharing. A publisher sees the installs of its agents and the "
                "scopes granted, not your e-mail address. An industry body sees "
                "the reports sent to it. We disclose information to authorities "
                "only where the law requires it."
            ),
            (
                "Retention. Account data is kept while your account exists. "
                "Consent receipts and acceptance records are kept as long as the "
                "law requires as evidence of consent. Request logs are deleted "
                "after 30 days."
            ),
            (
                "Your rights. You may see, correct, download and delete your "
                "personal information, withdraw consent, and complain to the "
                "data-protection authority. Write to privacy@example.com; we "
                "answer within 15 working days."
            ),
        ]
    ),
    "body_zh": "\n\n".join(
        [
            (
                "本政策说明本商店自身处理哪些个人信息、处理目的及保存期限。您安装"
                "的智能体按其发布者的隐私政策处理数据，每个上架页面均链接了相应政"
                "策。"
            ),
            (
                "我们收集的信息。您的用户名、电子邮件地址和密码（仅保存加盐哈希值"
                "）；可选的出生年份和偏好语言；您的安装记录、授予和撤销的权限及其"
                "同意凭证；您的评价、标记和举报及其证据；以及您对本站文件的接受记"
                "录。为保障安全，服务器会记录访问日志（地址、时间、页面）。"
            ),
            (
                "处理目的。用于运行您的账号、适用年龄分级、按您的授权向智能体提供"
                "且仅提供相应访问、展示和管理评价、将举报转交负责的行业组织，以及"
                "保障商店安全。我们不出售个人信息，也不将其用于广告。"
            ),
            (
                "信息共享。发布者可以看到其智能体的安装情况和授予的权限范围，但看"
                "不到您的电子邮件地址。行业组织可以看到提交给它的举报。仅在法律要"
                "求时，我们才向有关机关提供信息。"
            ),
            (
                "保存期限。账号信息在账号存续期间保存。同意凭证和接受记录作为同意"
                "的证据，按法律要求的期限保存。访问日志在 30 天后删除。"
            ),
            (
                "您的权利。您可以查阅、更正、下载和删除您的个人信息，撤回同意，并"
                "向个人信息保护主管部门投诉。请发送邮件至 privacy@example.com，我"
                "们将在 15 个工作日内答复。"
            ),
        ]
    ),
}

PRIVACY_POLICY_V2 = {
    "title_en": PRIVACY_POLICY_V1["title_en"],
    "title_zh": PRIVACY_POLICY_V1["title_zh"],
    "body_en": PRIVACY_POLICY_V1["body_en"].replace(
        "Request logs are deleted after 30 days.",
        "Request logs are deleted after 14 days. Daily-use reminders you set are "
        "kept with your account and deleted with it.",
    ),
    "body_zh": PRIVACY_POLICY_V1["body_zh"].replace(
        "访问日志在 30 天后删除。",
        "访问日志在 14 天后删除。您设置的每日使用提醒随账号保存，并随账号一并删除。",
    ),
    "summary_en": "Request logs are now kept for 14 days instead of 30. The policy "
    "also says how the daily-use reminders you may set are kept.",
    "summary_zh": (
        "访问日志的保存期限由 30 天缩短为 14 天。"
        "新增说明您可设置的每日使用提醒如何保存。"
    ),
}

PUBLISHER_AGREEMENT = {
    "title_en": "Publisher agreement",
    "title_zh": "发布者协议",
    "body_en": "\n\n".join(
        [
            (
                "This agreement is between the operator and an organisation that "
                "lists agents on this store. An owner or administrator accepts "
                "it on the organisation's behalf before its first version is "
                "submitted for review; when it changes, the new version is "
                "accepted before the next submission."
            ),
            (
                "Truthful listings. Capability declarations, permissions, "
                "deployment mode, dependencies, age ratings and filing numbers "
                "are complete and true. Certificates are claimed only while they "
                "are valid."
            ),
            (
                "Truthful pricing. The pricing model (free, freemium, "
                "subscription, pay per use, one-off purchase) and every price, "
                "trial period and renewal term are declared in the listing and "
                "shown before a person pays. Renewals are never hidden, and "
                "cancelling is as easy as subscribing."
            ),
            (
                "Companion agents. An agent that offers companionship or "
                "emotional support declares so, states clearly that the user is "
                "talking to an AI, offers reminders of time spent and an easy "
                "way to pause, detects signs of crisis and points to human help, "
                "and applies stricter protection to minors. It must not exploit "
                "loneliness to drive spending or use."
            ),
            (
                "Security and defects. Known defects and security flaws are "
                "disclosed and fixed without delay; the publisher answers the "
                "operator's and regulators' requests, and cooperates with "
                "recalls and security advisories."
            ),
            (
                "Reviews and reports. The publisher may reply to reviews and "
                "answer reports, but does not buy, trade or suppress reviews, "
                "and does not retaliate against reporters."
            ),
            (
                "Consequences. Breaches can lead to rejection of versions, "
                "recall, suspension of publishing, and a report to the industry "
                "body that rates the publisher's credit."
            ),
        ]
    ),
    "body_zh": "\n\n".join(
        [
            (
                "本协议由运营方与在本商店上架智能体的组织订立。组织的所有者或管理"
                "员应在首次提交版本审核前代表组织接受本协议；协议变更后，须在下一"
                "次提交前接受新版本。"
            ),
            (
                "如实上架。能力声明、权限、部署方式、依赖项、年龄分级和备案编号须"
                "完整、真实。仅在证书有效期内宣称相应认证。"
            ),
            (
                "如实标价。须在上架信息中声明计费模式（免费、免费增值、订阅、按次"
                "付费、一次性购买）以及全部价格、试用期和续费条款，并在用户付款前"
                "明示。不得隐藏自动续费，取消应与订阅同样便捷。"
            ),
            (
                "陪伴类智能体。提供陪伴或情感支持的智能体须如实声明，明确告知用户"
                "正在与人工智能交流，提供使用时长提醒和便捷的暂停方式，识别危机迹"
                "象并引导用户寻求人工帮助，对未成年人采取更严格的保护措施。不得利"
                "用孤独感诱导消费或沉迷。"
            ),
            (
                "安全与缺陷。已知缺陷和安全漏洞须及时披露并修复；发布者应回应运营"
                "方和监管部门的要求，配合召回和安全公告。"
            ),
            (
                "评价与举报。发布者可以回复评价、答复举报，但不得购买、交换或压制"
                "评价，不得打击报复举报人。"
            ),
            (
                "违约后果。违反本协议的，可能导致版本被驳回、被召回、暂停发布资格"
                "，并被报告给为发布者进行信用评级的行业组织。"
            ),
        ]
    ),
}

VERSION_ONE = [
    (Kind.PLATFORM_RULES, PLATFORM_RULES),
    (Kind.USER_AGREEMENT, USER_AGREEMENT),
    (Kind.PRIVACY_POLICY, PRIVACY_POLICY_V1),
    (Kind.PUBLISHER_AGREEMENT, PUBLISHER_AGREEMENT),
]


# Every demo loader gives its accounts an address at this reserved domain (RFC
# 2606): the accounts the demo accepts documents for. Anyone else's account is
# left to accept them itself.
DEMO_EMAIL_DOMAIN = "@example.com"


def _demo_versions(*, operator: User) -> dict[str, AgreementVersion]:
    """Version 1 of each document as the demo wrote it (by its operator, with its
    title), by kind: the only versions the demo accepts on anyone's behalf."""
    titles: dict[str, str] = {kind: texts["title_en"] for kind, texts in VERSION_ONE}
    versions = AgreementVersion.objects.filter(
        number=1,
        kind__in=list(titles),
        created_by=operator,
        published_at__isnull=False,
    )
    return {
        version.kind: version
        for version in versions
        if version.title_en == titles[version.kind]
    }


@transaction.atomic
def load_agreements(*, operator: User) -> int:
    """Write and publish the documents, and accept the demo's version 1 of them for
    the demo's own accounts and publishers; the number of rows created.

    The demo accounts are made without the sign-up form, so the prompt would ask
    them to accept the documents before their first write; the demo records that
    answer ahead of time, as the prompt records it (``PROMPT``), so that their
    log-ins are ready to use. A version 1 no longer in force (the operator
    published version 2) is not accepted: the prompt asks for the new one."""
    created = 0
    for kind, texts in VERSION_ONE:
        if not AgreementVersion.objects.filter(kind=kind, number=1).exists():
            draft = agreement_draft_create(actor=operator, kind=kind, **texts)
            agreement_publish(actor=operator, version=draft)
            created += 1
    if not AgreementVersion.objects.filter(kind=Kind.PRIVACY_POLICY, number=2).exists():
        agreement_draft_create(
            actor=operator, kind=Kind.PRIVACY_POLICY, **PRIVACY_POLICY_V2
        )
        created += 1
    ours = _demo_versions(operator=operator)
    in_force = {version.pk for version in agreement_in_force_list()}
    user_ids = sorted(
        version.pk
        for kind, version in ours.items()
        if kind in USER_KINDS and version.pk in in_force
    )
    before = AgreementAcceptance.objects.count()
    demo_users = User.objects.filter(
        is_active=True, email__iendswith=DEMO_EMAIL_DOMAIN
    ).order_by("pk")
    if user_ids:
        for user in demo_users:
            agreements_accept(
                user=user,
                version_ids=user_ids,
                context=AgreementAcceptance.Context.PROMPT,
            )
    publisher_version = ours.get(Kind.PUBLISHER_AGREEMENT)
    if publisher_version is not None and publisher_version.pk in in_force:
        managers = (
            Membership.objects.filter(
                organization__kind=Organization.Kind.PUBLISHER,
                role__in=(Membership.Role.OWNER, Membership.Role.ADMIN),
                user__in=demo_users,
            )
            .select_related("user", "organization")
            .order_by("organization_id", "role", "pk")
        )
        done: set[int] = set()
        for manager in managers:
            if manager.organization_id in done:
                continue
            if agreement_pending_list(user=manager.user):
                continue  # asked for a version the demo did not write: left to them
            done.add(manager.organization_id)
            if not AgreementAcceptance.objects.filter(
                organization=manager.organization, version=publisher_version
            ).exists():
                publisher_agreement_accept(
                    actor=manager.user, organization=manager.organization
                )
    return created + AgreementAcceptance.objects.count() - before
