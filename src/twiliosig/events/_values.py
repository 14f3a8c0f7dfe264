"""Values the catalogue's entries share: one account, its numbers, its services.

The numbers are in ranges set aside for fiction (US 555-01xx, UK 07700 900xxx,
Australia 0491 570 xxx), so a test that leaks one dials nobody.
"""

from __future__ import annotations

from ._model import sid

ACCOUNT_SID = sid("AC", "twiliosig example account")
MESSAGING_SERVICE_SID = sid("MG", "support messaging service")
CONVERSATION_SERVICE_SID = sid("IS", "frontline conversation service")

#: The app's Twilio number, and the people who write and call it.
TWILIO_NUMBER = "+14155550142"
WHATSAPP_SENDER = "whatsapp:+14155550199"
UK_CUSTOMER = "+447700900461"
US_CUSTOMER = "+12125550187"
AU_CUSTOMER = "+61491570156"
BR_CUSTOMER_WHATSAPP = "whatsapp:+5511955550123"

#: Where Twilio's number is, as Twilio's lookup reports it.
TWILIO_NUMBER_PLACE = (("City", "SAN FRANCISCO"), ("State", "CA"), ("Zip", "94105"), ("Country", "US"))


def place(prefix: str, city: str = "", state: str = "", zip_code: str = "", country: str = "") -> list[tuple[str, str]]:
    """``FromCity``, ``FromState``, ``FromZip``, ``FromCountry`` (or ``To...``); blank where Twilio found nothing."""
    return [
        (f"{prefix}City", city),
        (f"{prefix}State", state),
        (f"{prefix}Zip", zip_code),
        (f"{prefix}Country", country),
    ]


def twilio_place(prefix: str) -> list[tuple[str, str]]:
    """The place of the app's own number."""
    return [(f"{prefix}{name}", value) for name, value in TWILIO_NUMBER_PLACE]
