"""The standard domains, their risk tiers and whether listings need a filing
number. Migration 0004 loads the same list into a new database (migrations keep their
own frozen copy); the operator changes tiers and adds domains in the admin."""

from marketplace.models import Domain

STANDARD_DOMAINS = [
    # code, English, Chinese, risk tier, needs filing
    ("medical", "Medical and health", "医疗健康", "high", True),
    ("transport", "Transport", "交通出行", "high", True),
    ("public_safety", "Public safety", "公共安全", "high", True),
    ("finance", "Finance", "金融", "high", True),
    ("government", "Government services", "政务服务", "high", True),
    ("justice", "Justice", "司法", "high", True),
    ("media", "News and media", "新闻媒体", "medium", True),
    ("education", "Education", "教育", "medium", False),
    ("office", "Office and productivity", "办公效率", "low", False),
    ("lifestyle", "Lifestyle", "生活服务", "low", False),
    ("entertainment", "Entertainment", "娱乐", "low", False),
]


def ensure_standard_domains() -> None:
    """Create the standard domains that are missing; leave existing ones as the
    operator set them."""
    for code, name_en, name_zh, tier, filing in STANDARD_DOMAINS:
        Domain.objects.get_or_create(
            code=code,
            defaults={
                "name_en": name_en,
                "name_zh": name_zh,
                "risk_tier": tier,
                "needs_filing": filing,
            },
        )
