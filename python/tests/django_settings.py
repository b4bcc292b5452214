"""The example shop's settings, plus the app whose methods the Django tests call."""
from shop.settings import *  # noqa: F401,F403
from shop.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_checks"]
