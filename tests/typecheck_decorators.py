"""Checked by mypy (tests/test_typing.py), never run: the decorators keep the view's type.

Each ``assert_type`` fails if a decorator turns the view into ``Any`` or changes its
parameters or return type; each ``type: ignore`` is reported as unused (and fails)
if the decorated view stopped rejecting a wrong call.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from twiliosig.contrib import aws_lambda, django, flask


@flask.twilio_required
def flask_view(user_id: int, *, verbose: bool = False) -> str:
    return f"{user_id} {verbose}"


@flask.twilio_required(public_url="https://hooks.example.com")
def flask_view_with_options(user_id: int) -> tuple[str, int]:
    return str(user_id), 200


assert_type(flask_view(1, verbose=True), str)
flask_view(1, True)  # type: ignore[call-arg]
assert_type(flask_view_with_options(1), tuple[str, int])
flask_view("one")  # type: ignore[arg-type]
flask_view_with_options()  # type: ignore[call-arg]


class Request:
    """Stands for Django's HttpRequest, which mypy sees as Any (Django ships no types)."""


class Answer:
    """Stands for HttpResponse, for the same reason."""


@django.twilio_required
def django_view(request: Request, sid: str) -> Answer:
    return Answer()


@django.twilio_required(report_only=True)
async def django_async_view(request: Request) -> Answer:
    return Answer()


assert_type(django_view(Request(), "CA1"), Answer)
django_view(Request())  # type: ignore[call-arg]
django_view(Request(), 1)  # type: ignore[arg-type]


async def call_async_view() -> None:
    assert_type(await django_async_view(Request()), Answer)


@aws_lambda.twilio_required
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return {"statusCode": 200}


@aws_lambda.twilio_required(paths=["/twilio/"])
def handler_with_options(event: dict[str, Any], context: object) -> dict[str, Any]:
    return {"statusCode": 200}


assert_type(handler({}, None), dict[str, Any])
assert_type(handler_with_options({}, None), dict[str, Any])
handler({})  # type: ignore[call-arg]
aws_lambda.twilio_required(public_urll="https://x")  # type: ignore[call-overload]
