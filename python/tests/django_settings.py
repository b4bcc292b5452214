"""The example shop's settings, plus the app whose methods the Django tests call; FASTIFY_IPC_JSON,
when set, replaces FASTIFY_IPC (a test of start-up with bad settings)."""
import json
import os

from shop.settings import *  # noqa: F401,F403
from shop.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_checks"]

if "FASTIFY_IPC_JSON" in os.environ:
    FASTIFY_IPC = json.loads(os.environ["FASTIFY_IPC_JSON"])
