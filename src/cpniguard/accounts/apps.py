from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "cpniguard.accounts"
    label = "accounts"
    verbose_name = "Staff accounts"
