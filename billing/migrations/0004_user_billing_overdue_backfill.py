from typing import Any

from django.db import migrations


def _backfill(apps: Any, schema_editor: Any) -> None:
    """Accounts with an overdue period before the flag existed."""
    User = apps.get_model("accounts", "User")
    BillingPeriod = apps.get_model("billing", "BillingPeriod")
    overdue_users = BillingPeriod.objects.filter(status="overdue").values("user_id")
    User.objects.filter(pk__in=overdue_users).update(billing_overdue=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_billing_overdue"),
        ("billing", "0003_protect_billing_history_from_user_deletion"),
    ]

    operations = [migrations.RunPython(_backfill, migrations.RunPython.noop)]
