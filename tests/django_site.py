"""URLs and views for the Django tests (settings are configured in conftest.py)."""

from __future__ import annotations

import hashlib
import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from twiliosig import RequestValidator
from twiliosig.contrib.django import twilio_required

TOKEN = "django-test-token-0123456789abcd"
CALLS: list[str] = []


@csrf_exempt
def manual(request: HttpRequest, rest: str) -> HttpResponse:
    """Validates by hand, for tests of the test helpers themselves."""
    url = request.build_absolute_uri()
    params = request.body if "bodySHA256" in url else [(k, v) for k, vs in request.POST.lists() for v in vs]
    verdict = RequestValidator(TOKEN).check(url, params, request.headers.get("X-Twilio-Signature"))
    return HttpResponse(verdict.reason.value, status=200 if verdict.valid else 403)


def seen(request: HttpRequest) -> JsonResponse:
    """What the view sees: the body's hash, the form pairs and the verdict."""
    CALLS.append(request.path)
    verdict = getattr(request, "twiliosig_verdict", None)
    return JsonResponse(
        {
            "sha256": hashlib.sha256(request.body).hexdigest(),
            "form": [[k, v] for k, vs in request.POST.lists() for v in vs],
            "reason": None if verdict is None else verdict.reason.value,
        }
    )


@twilio_required
def decorated_sync(request: HttpRequest) -> JsonResponse:
    return seen(request)


@twilio_required
async def decorated_async(request: HttpRequest) -> JsonResponse:
    return seen(request)


def reads_post_first(view):  # type: ignore[no-untyped-def]
    """A decorator above @twilio_required that reads request.POST (an audit log, say)."""

    def wrapper(request: HttpRequest) -> HttpResponse:
        request.POST.get("x")
        return view(request)  # type: ignore[no-any-return]

    wrapper.csrf_exempt = True  # type: ignore[attr-defined]
    return wrapper


@reads_post_first
@twilio_required
def post_read_first(request: HttpRequest) -> JsonResponse:
    return seen(request)


def plain(request: HttpRequest, rest: str) -> JsonResponse:
    """Not csrf_exempt: behind the middleware a genuine webhook still gets through."""
    return seen(request)


def json_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(json.dumps({"n": len(request.body)}), content_type="application/json")


def ok(request: HttpRequest) -> HttpResponse:
    """The plain answer of the refusal table's app (tests/test_refusals.py)."""
    return HttpResponse("ok")


urlpatterns = [
    path("twilio/sms", ok),
    path("manual/<path:rest>", manual),
    path("decorated/sync", decorated_sync),
    path("decorated/twilio/sms", decorated_sync),
    path("decorated/async", decorated_async),
    path("decorated/post-read-first", post_read_first),
    path("mw/<path:rest>", plain),
]
