"""At most one organisation holds a domain as verified. Should two hold one already,
the one verified first keeps it; the others' verification is withdrawn (their next
check says that another organisation holds the domain)."""

from django.db import migrations, models


def withdraw_duplicate_verifications(apps, schema_editor):
    Organization = apps.get_model("marketplace", "Organization")
    held = set()
    verified = (
        Organization.objects.filter(domain_verified_at__isnull=False)
        .exclude(domain="")
        .order_by("domain_verified_at", "pk")
        .values_list("pk", "domain")
    )
    for pk, domain in verified:
        if domain in held:
            Organization.objects.filter(pk=pk).update(
                domain_verified_at=None, domain_check_error="domain_taken"
            )
        held.add(domain)


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0010_listed_facets_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="domain_check_requested_at",
            field=models.DateTimeField(
                blank=True, null=True, verbose_name="domain check requested"
            ),
        ),
        migrations.RunPython(
            withdraw_duplicate_verifications, migrations.RunPython.noop
        ),
        migrations.AddConstraint(
            model_name="organization",
            constraint=models.UniqueConstraint(
                condition=models.Q(("domain_verified_at__isnull", False)),
                fields=("domain",),
                name="organization_verified_domain_unique",
            ),
        ),
    ]
