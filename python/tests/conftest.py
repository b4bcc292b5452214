"""Fixtures every Python test module shares: a real redis-server and a real gateway process per
module (started once, stopped at its end), and a sync redis-py client. Helpers: ipc_support.py."""
import sys
from pathlib import Path

import pytest
import redis as redis_py

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]

from ipc_support import Gateway, RedisServer  # noqa: E402


@pytest.fixture(scope="module")
def redis_server():
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redis_url(redis_server):
    return redis_server.url


@pytest.fixture(scope="module")
def redis(redis_url):
    """A sync client answering bytes, for looking at keys."""
    client = redis_py.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def gateway(redis_url):
    gw = Gateway(redis_url)
    yield gw
    assert gw.stop() == 0, gw.output
