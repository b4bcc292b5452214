from django.apps import AppConfig

from .conf import ipc_settings


class FastifyIpcConfig(AppConfig):
    name = "fastify_ipc.django"
    # "django" would be this app's default label, and a confusing one.
    label = "fastify_ipc"
    verbose_name = "fastify-ipc"

    def ready(self) -> None:
        # A bad FASTIFY_IPC stops start-up (runserver, migrate, ipc_worker), not the first publish.
        ipc_settings()
