"""Supervisors edit business lines (settings, hours, team) and agents (capacity, teams); they still cannot add or
delete agents (an agent is a user account: that stays with administrators) nor read a line's identity secret."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_NAME = "Supervisors"
PERMISSIONS = [
    ("routing", "add_businessline"),
    ("routing", "change_businessline"),
    ("agents", "change_agent"),
]


def grant(apps, schema_editor):
    alias = schema_editor.connection.alias
    for app_label in sorted({app_label for app_label, _ in PERMISSIONS}):
        app_config = apps.get_app_config(app_label)
        # A migration state's app config has no models module; create_permissions skips such apps.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0, using=alias)
        finally:
            app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(alias).get_or_create(name=GROUP_NAME)
    group.permissions.add(
        *[
            Permission.objects.using(alias).get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in PERMISSIONS
        ]
    )


def revoke(apps, schema_editor):
    alias = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.using(alias).filter(name=GROUP_NAME):
        group.permissions.remove(
            *Permission.objects.using(alias).filter(
                content_type__app_label__in=[app_label for app_label, _ in PERMISSIONS],
                codename__in=[codename for _, codename in PERMISSIONS],
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0007_conversation_handler_ids"),
        ("routing", "0006_businessline_attachment_limits"),
        ("agents", "0002_api_token"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
