"""A Django project of async views, each under ``@twilio_required`` with one replay store, for test_replay_loops.py.

gunicorn serves ``wsgi``: Django runs each async view through asgiref's ``async_to_sync``,
which, with no event loop in the thread, runs it with ``asyncio.run`` on a new thread:
a new event loop for every request (several at once with ``--threads``). uvicorn serves
``asgi``: one loop for the whole process. The stores' servers come from the environment
(``LOOP_REDIS``, ``LOOP_CLUSTER``, ``LOOP_MEMCACHED``: ``host:port``).

``POST /<kind>/...`` is guarded by the store named ``kind`` (see ``KINDS``); a path ending in
``fail500`` makes the view answer 500 (the claim is released). ``GET /fds`` answers how many
file descriptors the process has open, for the leak check.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import django
import redis.asyncio
import redis.asyncio.cluster
import valkey.asyncio
import valkey.asyncio.cluster
from django.conf import settings
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry
from valkey.asyncio.retry import Retry as ValkeyRetry
from valkey.backoff import NoBackoff as ValkeyNoBackoff

TOKEN = "e2e-loops-token-0123456789abcdef"
PUBLIC_URL = "https://example.com"
REDIS = os.environ.get("LOOP_REDIS", "127.0.0.1:1")
CLUSTER = os.environ.get("LOOP_CLUSTER", "127.0.0.1:1")
MEMCACHED = os.environ.get("LOOP_MEMCACHED", "127.0.0.1:1")

FAST = {"socket_timeout": 0.5, "socket_connect_timeout": 1.0}

settings.configure(
    DEBUG=False,
    SECRET_KEY="e2e-only-not-a-secret",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://{REDIS}/4",
            "OPTIONS": {**FAST, "retry": Retry(NoBackoff(), 0)},
        }
    },
    TWILIOSIG={"auth_token": TOKEN, "public_url": PUBLIC_URL},
)
django.setup()

from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.urls import re_path  # noqa: E402

from twiliosig.contrib.django import DjangoCacheReplayStore, twilio_required  # noqa: E402
from twiliosig.replay import MemcachedReplayStore, RedisReplayStore  # noqa: E402


def _host_port(address: str) -> dict[str, Any]:
    host, _, port = address.rpartition(":")
    return {"host": host, "port": int(port)}


def _stores() -> dict[str, Any]:
    """One store of each kind; every kind on its own key prefix, so no two share a claim."""
    redis_retry = {**FAST, "retry": AsyncRetry(NoBackoff(), 0)}
    valkey_retry = {**FAST, "retry": ValkeyRetry(ValkeyNoBackoff(), 0)}
    return {
        # a URL: the store makes its own asyncio client, one per event loop
        "redis": RedisReplayStore(f"redis://{REDIS}/0", prefix="loops:redis:"),
        # functions that make a client: called once per event loop
        "cluster": RedisReplayStore(
            functools.partial(redis.asyncio.cluster.RedisCluster, **_host_port(CLUSTER), **redis_retry),
            prefix="loops:cluster:",
        ),
        "valkey": RedisReplayStore(
            functools.partial(valkey.asyncio.Valkey, **_host_port(REDIS), **valkey_retry), prefix="loops:valkey:"
        ),
        "valkey-cluster": RedisReplayStore(
            functools.partial(valkey.asyncio.cluster.ValkeyCluster, **_host_port(CLUSTER), **valkey_retry),
            prefix="loops:vcluster:",
        ),
        # one client made by the user: it belongs to the first loop that claims with it
        "given": RedisReplayStore(redis.asyncio.Redis(**_host_port(REDIS), **redis_retry), prefix="loops:given:"),
        # no asyncio client at all: claims run the sync client on a worker thread
        "memcached": MemcachedReplayStore(MEMCACHED, prefix="loops:memcached:"),
        "django": DjangoCacheReplayStore("default", prefix="loops:django:"),
    }


STORES = _stores()
KINDS = sorted(STORES)


def _view(kind: str) -> Any:
    @twilio_required(replay_guard=STORES[kind])
    async def guarded(request: HttpRequest) -> HttpResponse:
        return HttpResponse(kind, status=500 if request.path.endswith("fail500") else 200)

    return guarded


def fds(request: HttpRequest) -> HttpResponse:
    """How many file descriptors this process holds open (Linux)."""
    return HttpResponse(str(len(os.listdir("/proc/self/fd"))))


urlpatterns = [re_path(r"^fds$", fds)] + [re_path(rf"^{kind}/", _view(kind)) for kind in KINDS]

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

wsgi = get_wsgi_application()
asgi = get_asgi_application()
