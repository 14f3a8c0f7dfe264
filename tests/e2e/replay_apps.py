"""Apps that share one replay store across processes, for tests/e2e/test_replay_shared.py.

gunicorn serves ``wsgi`` and uvicorn serves ``asgi`` (or, for Django, ``django_wsgi`` and
``django_asgi``), each in its own process with its own store object, all pointing at
the same server: ``REPLAY_STORE`` names the kind (``cluster``, ``sentinel``,
``memcached``, ``django``) and ``REPLAY_SERVER`` where it is (``host:port``; for
Sentinel, the Sentinel's). Both sign for ``https://example.com`` (``public_url``), so
a request signed once is valid at either process. Paths under ``/allow/`` are guarded
with ``on_store_error="allow"``; a path ending in ``fail500`` makes the app answer 500.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from redis.backoff import NoBackoff

from twiliosig import asgi as asgi_middleware
from twiliosig import wsgi as wsgi_middleware
from twiliosig.replay import MemcachedReplayStore, RedisReplayStore

TOKEN = "e2e-replay-token-0123456789abcdef"
PUBLIC_URL = "https://example.com"
SENTINEL_MASTER = "twiliosig"
KIND = os.environ.get("REPLAY_STORE", "")
SERVER = os.environ.get("REPLAY_SERVER", "127.0.0.1:1")


def timeouts(asynchronous: bool) -> dict[str, Any]:
    """What docs/replay.md advises for a client you make: short timeouts, no retries of the client's own."""
    if asynchronous:
        from redis.asyncio.retry import Retry as AsyncRetry

        return {"socket_timeout": 0.5, "socket_connect_timeout": 1.0, "retry": AsyncRetry(NoBackoff(), 0)}
    from redis.retry import Retry

    return {"socket_timeout": 0.5, "socket_connect_timeout": 1.0, "retry": Retry(NoBackoff(), 0)}


def store(asynchronous: bool) -> Any:
    host, _, port = SERVER.rpartition(":")
    if KIND == "cluster":
        if asynchronous:
            from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

            return RedisReplayStore(AsyncRedisCluster(host=host, port=int(port), **timeouts(True)))
        from redis.cluster import RedisCluster

        return RedisReplayStore(RedisCluster(host=host, port=int(port), **timeouts(False)))
    if KIND == "sentinel":
        if asynchronous:
            from redis.asyncio.sentinel import Sentinel as AsyncSentinel

            watcher = AsyncSentinel([(host, int(port))], socket_timeout=0.5)
            return RedisReplayStore(watcher.master_for(SENTINEL_MASTER, **timeouts(True)))
        from redis.sentinel import Sentinel

        master = Sentinel([(host, int(port))], socket_timeout=0.5).master_for(SENTINEL_MASTER, **timeouts(False))
        return RedisReplayStore(master)
    if KIND == "memcached":
        return MemcachedReplayStore(SERVER)
    raise ValueError(f"REPLAY_STORE={KIND!r}: expected cluster, sentinel or memcached")


def status_for(path: str) -> str:
    return "500 Internal Server Error" if path.endswith("fail500") else "200 OK"


def plain_wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response(status_for(environ.get("PATH_INFO", "")), [("Content-Type", "text/plain")])
    return [b"handled"]


async def plain_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    status = int(status_for(scope["path"]).split()[0])
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"handled"})


def build_wsgi() -> Any:
    shared = store(False)
    guarded = {
        on_error: wsgi_middleware.TwilioSignatureMiddleware(
            plain_wsgi, auth_token=TOKEN, public_url=PUBLIC_URL, replay_guard=shared, on_store_error=on_error
        )
        for on_error in ("refuse", "allow")
    }

    def dispatch(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        on_error = "allow" if environ.get("PATH_INFO", "").startswith("/allow/") else "refuse"
        return guarded[on_error](environ, start_response)

    return dispatch


def build_asgi() -> Any:
    shared = store(True)
    guarded = {
        on_error: asgi_middleware.TwilioSignatureMiddleware(
            plain_asgi, auth_token=TOKEN, public_url=PUBLIC_URL, replay_guard=shared, on_store_error=on_error
        )
        for on_error in ("refuse", "allow")
    }

    async def dispatch(scope: dict[str, Any], receive: Any, send: Any) -> None:
        on_error = "allow" if scope.get("path", "").startswith("/allow/") else "refuse"
        await guarded[on_error](scope, receive, send)

    return dispatch


# --- Django, its cache on Redis --------------------------------------------------------------------


def configure_django() -> None:
    """Settings for a Django project whose replay claims live in its own Redis cache (REPLAY_SERVER)."""
    import django
    from django.conf import settings

    from twiliosig.contrib.django import DjangoCacheReplayStore

    settings.configure(
        DEBUG=False,
        SECRET_KEY="e2e-only-not-a-secret",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["twiliosig.contrib.django.TwilioSignatureMiddleware"],
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://{SERVER}/2",
                "OPTIONS": timeouts(False),
            }
        },
        # Built before the settings exist, as in a settings.py: the store checks the cache when the
        # middleware is built.
        TWILIOSIG={"auth_token": TOKEN, "public_url": PUBLIC_URL, "replay_guard": DjangoCacheReplayStore("default")},
    )
    django.setup()


def _django_view(request: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse(b"handled", status=500 if request.path.endswith("fail500") else 200)


def __getattr__(name: str) -> Any:
    if name == "urlpatterns":
        from django.urls import re_path

        return [re_path(r"^.*$", _django_view)]
    raise AttributeError(name)


wsgi = asgi = django_wsgi = django_asgi = None
if KIND == "django":
    configure_django()
    from django.core.asgi import get_asgi_application
    from django.core.wsgi import get_wsgi_application

    django_wsgi, django_asgi = get_wsgi_application(), get_asgi_application()
elif KIND:
    wsgi, asgi = build_wsgi(), build_asgi()
