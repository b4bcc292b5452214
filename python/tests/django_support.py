"""What the Django tests share: the example shop's environment, and its ``manage.py`` as a process."""
import os
import sys
from pathlib import Path
from typing import Dict

from ipc_support import PYTHON_DIR, TESTS, Process

EXAMPLE = PYTHON_DIR / "examples" / "django_orders"


def shop_env(redis_url: str, db: Path, settings: str = "django_settings") -> Dict[str, str]:
    """The environment of the example project: its Redis, its database, and the test settings
    (the shop's own plus the ``checks`` app) unless told otherwise."""
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PYTHON_DIR), str(TESTS), str(EXAMPLE), *inherited]),
        "DJANGO_SETTINGS_MODULE": settings,
        "REDIS_URL": redis_url,
        "SHOP_DB": str(db),
    }


def python(env: Dict[str, str], *args: str) -> Process:
    """``python <args>`` in the example project (``manage.py ...``, ``listen.py``), as people run it."""
    return Process([sys.executable, *args], env, cwd=EXAMPLE)


def ipc_worker(env: Dict[str, str], *args: str) -> Process:
    """``manage.py ipc_worker <args>``, once it serves."""
    proc = python(env, "manage.py", "ipc_worker", *args)
    proc.wait_for(" started")
    return proc

