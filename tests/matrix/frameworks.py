"""The frameworks and servers of the matrix, and which pairs make sense.

A WSGI framework runs on every WSGI server and an ASGI framework on every ASGI
server; a WebSocket handshake is tried where the framework serves WebSockets (every
ASGI server here does). Importing this module imports no framework and no server.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Framework:
    """One framework's app in ``tests/matrix/apps``.

    Attributes:
        name: As the page shows it.
        app: ``module:attribute`` for the server.
        interface: ``wsgi`` or ``asgi``: the middleware that protects it, and the servers it runs on.
        distribution: The package whose version the page shows.
        websocket: The app serves ``/twilio/media``.
    """

    name: str
    app: str
    interface: str
    distribution: str
    websocket: bool = False

    @property
    def source(self) -> Path:
        """The app's module file."""
        return Path(__file__).parent / "apps" / f"{self.app.split(':')[0].rsplit('.', 1)[1]}.py"


@dataclass(frozen=True)
class Server:
    """One server, and the command line that serves an app on 127.0.0.1:port with its defaults otherwise.

    Attributes:
        name: As the page shows it (unique: granian appears once per interface).
        interface: ``wsgi`` or ``asgi``.
        distribution: The package whose version the page shows.
        command: The argv, with ``{app}`` and ``{port}`` to fill in.
    """

    name: str
    interface: str
    distribution: str
    command: tuple[str, ...]

    def argv(self, app: str, port: int) -> list[str]:
        """The command line serving ``app`` on 127.0.0.1:``port``."""
        program, *arguments = self.command
        return [str(BIN / program), *(part.format(app=app, port=port) for part in arguments)]


_APPS = "tests.matrix.apps"

FRAMEWORKS = [
    Framework("Flask", f"{_APPS}.flask_app:app", "wsgi", "flask"),
    Framework("Django (WSGI)", f"{_APPS}.django_wsgi:application", "wsgi", "django"),
    Framework("Falcon (WSGI)", f"{_APPS}.falcon_wsgi:app", "wsgi", "falcon"),
    Framework("Pyramid", f"{_APPS}.pyramid_app:app", "wsgi", "pyramid"),
    Framework("Bottle", f"{_APPS}.bottle_app:app", "wsgi", "bottle"),
    Framework("FastAPI", f"{_APPS}.fastapi_app:app", "asgi", "fastapi", websocket=True),
    Framework("Starlette", f"{_APPS}.starlette_app:app", "asgi", "starlette", websocket=True),
    Framework("Django (ASGI)", f"{_APPS}.django_asgi:application", "asgi", "django"),
    Framework("Falcon (ASGI)", f"{_APPS}.falcon_asgi:app", "asgi", "falcon", websocket=True),
    Framework("Litestar", f"{_APPS}.litestar_app:app", "asgi", "litestar", websocket=True),
    Framework("Quart", f"{_APPS}.quart_app:app", "asgi", "quart", websocket=True),
]

SERVERS = [
    Server("gunicorn", "wsgi", "gunicorn", ("gunicorn", "--bind", "127.0.0.1:{port}", "--workers", "1", "{app}")),
    Server("waitress", "wsgi", "waitress", ("waitress-serve", "--listen=127.0.0.1:{port}", "{app}")),
    Server(
        "granian (WSGI)",
        "wsgi",
        "granian",
        ("granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1", "{app}"),
    ),
    Server("uvicorn", "asgi", "uvicorn", ("uvicorn", "--host", "127.0.0.1", "--port", "{port}", "{app}")),
    Server("hypercorn", "asgi", "hypercorn", ("hypercorn", "--bind", "127.0.0.1:{port}", "{app}")),
    Server("daphne", "asgi", "daphne", ("daphne", "-b", "127.0.0.1", "-p", "{port}", "{app}")),
    Server(
        "granian (ASGI)",
        "asgi",
        "granian",
        ("granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1", "{app}"),
    ),
]


def pairs() -> list[tuple[Framework, Server]]:
    """Every pair that makes sense: each framework on each server of its interface."""
    return [
        (framework, server) for framework in FRAMEWORKS for server in SERVERS if server.interface == framework.interface
    ]


def pair(framework: str, server: str) -> tuple[Framework, Server]:
    """The pair with these names."""
    for found in pairs():
        if (found[0].name, found[1].name) == (framework, server):
            return found
    raise KeyError(f"no pair {framework} x {server}")


@dataclass(frozen=True)
class Known:
    """A pair that fails for a reason outside twiliosig, and the cases it fails.

    The page prints ``why`` under the table. ``make matrix`` fails when such a pair
    passes one of these cases again, so a note never outlives its cause.
    """

    cases: frozenset[str]
    why: str


KNOWN: dict[tuple[str, str], Known] = {
    ("Quart", "daphne"): Known(
        frozenset({"websocket genuine", "server log"}),
        "daphne leaves the optional `scheme` key out of a WebSocket scope and Quart requires it, so every "
        "Quart WebSocket route fails on daphne with `KeyError: 'scheme'` (a 500 and a logged traceback), "
        "with or without twiliosig ([django/daphne#538](https://github.com/django/daphne/issues/538)). "
        "The signature check itself ran: the genuine handshake got past twiliosig to Quart, and the "
        "unsigned one was refused with 403.",
    ),
}
