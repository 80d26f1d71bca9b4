"""Supervisors keep the business lines' canned replies and labels in the admin."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_NAME = "Supervisors"
CODENAMES = [
    f"{action}_{model}" for model in ("cannedreply", "label") for action in ("add", "change", "delete", "view")
]


def grant(apps, schema_editor):
    alias = schema_editor.connection.alias
    app_config = apps.get_app_config("desk")
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
        *Permission.objects.using(alias).filter(content_type__app_label="desk", codename__in=CODENAMES)
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    alias = schema_editor.connection.alias
    for group in Group.objects.using(alias).filter(name=GROUP_NAME):
        group.permissions.remove(
            *Permission.objects.using(alias).filter(content_type__app_label="desk", codename__in=CODENAMES)
        )


class Migration(migrations.Migration):
    dependencies = [("desk", "0002_search"), ("chat", "0002_supervisors_group")]

    operations = [migrations.RunPython(grant, revoke)]
