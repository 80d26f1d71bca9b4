from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = gettext_lazy("Customers: visitors and identified users")
