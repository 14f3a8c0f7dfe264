"""URLs and views for the Django tests (settings are configured in conftest.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from twiliosig import RequestValidator

TOKEN = "django-test-token-0123456789abcd"


@csrf_exempt
def manual(request: HttpRequest, rest: str) -> HttpResponse:
    """Validates by hand, for tests of the test helpers themselves."""
    url = request.build_absolute_uri()
    params = request.body if "bodySHA256" in url else [(k, v) for k, vs in request.POST.lists() for v in vs]
    verdict = RequestValidator(TOKEN).check(url, params, request.headers.get("X-Twilio-Signature"))
    return HttpResponse(verdict.reason.value, status=200 if verdict.valid else 403)


urlpatterns = [path("manual/<path:rest>", manual)]
