from django.apps import AppConfig


class SubscribersConfig(AppConfig):
    name = "cpniguard.subscribers"
    label = "subscribers"
    verbose_name = "Customer records (CPNI)"
