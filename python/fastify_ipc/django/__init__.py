"""Django integration: ``INSTALLED_APPS += ["fastify_ipc.django"]``.

- ``@method("orders.get", params=..., result=...)`` in an app's ``ipc.py`` declares a method;
  ``python manage.py ipc_worker orders`` serves them.
- ``publish.to_user(user.pk, "order.updated", data, on_commit=True)`` sends an event from views,
  signals and tasks.
"""
from .events import publish
from .registry import method

__all__ = ["method", "publish"]
