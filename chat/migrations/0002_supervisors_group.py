"""The `Supervisors` group: read every business line, customer, agent and transcript, and export transcripts.

Django creates permissions after `migrate` (post_migrate), so on a fresh database they do not exist yet when this
runs: it creates them first with `create_permissions`, the documented way for data migrations that need them.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_NAME = "Supervisors"
PERMISSIONS = [
    ("routing", "view_businessline"),
    ("customers", "view_customer"),
    ("agents", "view_agent"),
    ("chat", "view_conversation"),
    ("chat", "view_message"),
    ("chat", "export_transcript"),
]


def create_supervisors_group(apps, schema_editor):
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
    permissions = [
        Permission.objects.using(alias).get(content_type__app_label=app_label, codename=codename)
        for app_label, codename in PERMISSIONS
    ]
    group, _ = Group.objects.using(alias).get_or_create(name=GROUP_NAME)
    group.permissions.set(permissions)


def remove_supervisors_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=GROUP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("routing", "0001_initial"),
        ("customers", "0001_initial"),
        ("agents", "0001_initial"),
        ("chat", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_supervisors_group, remove_supervisors_group)]
