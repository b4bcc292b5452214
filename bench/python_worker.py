"""The Python worker of the ``python`` bench scenario, run as ``python -m fastify_ipc worker
python_worker:setup``: ``<service>.echo`` answers with its params from an async handler,
``<service>.echo_sync`` the same from a plain one (the thread pool)."""


def setup(worker):
    params = {"type": "object", "properties": {"text": {"type": "string"}, "n": {"type": "integer"}}, "required": ["text", "n"]}

    @worker.method(f"{worker.service}.echo", params=params, description="Answers with its params")
    async def echo(p, ctx):
        return p

    @worker.method(f"{worker.service}.echo_sync", params=params, description="Answers with its params, from a thread")
    def echo_sync(p, ctx):
        return p
