"""The standard list of domains and their risk tiers. The operator can change tiers
and add domains afterwards in the admin."""

from django.db import migrations

DOMAINS = [
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


def add_domains(apps, schema_editor):
    Domain = apps.get_model("marketplace", "Domain")
    for code, name_en, name_zh, tier, filing in DOMAINS:
        Domain.objects.get_or_create(
            code=code,
            defaults={
                "name_en": name_en,
                "name_zh": name_zh,
                "risk_tier": tier,
                "needs_filing": filing,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0003_publisher_keys")]

    operations = [migrations.RunPython(add_domains, migrations.RunPython.noop)]
