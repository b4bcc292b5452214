import asyncio
import logging

from django.core.management.base import BaseCommand, CommandError

from fastify_ipc.django.worker import django_worker


class Command(BaseCommand):
    help = ("Answers a service's methods, declared with @method in the installed apps' ipc.py, "
            "from the gateway's Redis streams until SIGTERM or SIGINT.")

    def add_arguments(self, parser):
        parser.add_argument("service", help="the service to serve: the part of the method names before the first dot")
        parser.add_argument("--concurrency", type=int, default=10, help="most requests handled at once (10)")

    def handle(self, *args, service, concurrency, **options):
        if concurrency < 1:
            raise CommandError("--concurrency must be 1 or more")
        worker = django_worker(service, concurrency)
        show_worker_log()
        asyncio.run(worker.run())


def show_worker_log() -> None:
    """The worker's start, stop and failures (with tracebacks) on stderr, unless LOGGING sends them
    somewhere already: like runserver, the command says what it does."""
    logger = logging.getLogger("fastify_ipc")
    if not logger.hasHandlers():
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
