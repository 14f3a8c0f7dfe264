"""The Django project both Django apps serve: settings, one URL and its view, in one module."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tests.matrix.apps import reply

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="matrix-not-secret",  # a throwaway test project
        ALLOWED_HOSTS=["127.0.0.1"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["django.middleware.common.CommonMiddleware", "django.middleware.csrf.CsrfViewMiddleware"],
        INSTALLED_APPS=[],
    )


@csrf_exempt  # Twilio cannot send a CSRF token; the signature is what authenticates it
@require_POST
def sms(request: HttpRequest) -> HttpResponse:
    return HttpResponse(reply(request.POST["Body"]), content_type="text/plain; charset=utf-8")


urlpatterns = [path("twilio/sms", sms)]
