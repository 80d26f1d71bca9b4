"""Django's admin, on the project's site (`cs_platform.admin_site.AdminSite`: a rate-limited login).

A module of its own: an app's `apps.py` with two AppConfig classes would leave Django unsure which is the
`cs_platform` app's.
"""

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    default_site = "cs_platform.admin_site.AdminSite"
