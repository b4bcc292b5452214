"""Settings of the example shop: SQLite, and the gateway's Redis from the environment."""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# For this example only: a real project keeps its key out of the code.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "fastify_ipc.django",
    "orders",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SHOP_DB", str(BASE_DIR / "db.sqlite3")),
    }
}

FASTIFY_IPC = {
    # the gateway's REDIS_URL and IPC_PREFIX
    "REDIS_URL": os.environ.get("REDIS_URL", "redis://localhost:6379/0"),
    "PREFIX": os.environ.get("IPC_PREFIX", "ipc:"),
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
