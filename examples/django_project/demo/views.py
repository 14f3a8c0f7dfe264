"""Views: Twilio posts form data without a CSRF token, so webhook views are csrf_exempt.

That is safe here because the signature check in demo/wsgi.py runs first: a request that
reaches this view was signed by Twilio.
"""

from xml.sax.saxutils import escape

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def incoming_sms(request: HttpRequest) -> HttpResponse:
    body = request.POST.get("Body", "")
    twiml = f"<Response><Message>You said: {escape(body)}</Message></Response>"
    return HttpResponse(twiml, content_type="text/xml")


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")
