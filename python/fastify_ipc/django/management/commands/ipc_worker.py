import asyncio
import signal

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
        asyncio.run(self.serve(worker))

    async def serve(self, worker):
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await worker.start()
        self.stdout.write(f"serving {', '.join(worker.methods)} (concurrency {worker.concurrency}); SIGTERM or Ctrl-C stops")
        await stop.wait()
        self.stdout.write("stopping: finishing the requests under way")
        await worker.stop()
        self.stdout.write("stopped")
