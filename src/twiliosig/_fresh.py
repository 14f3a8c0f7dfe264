"""New per-delivery ids for a catalogue webhook: ``twiliosig send --fresh``, ``TwilioSigner.event(fresh=True)``.

A catalogue entry is the same request every time it is sent: the same message, call and
event SIDs, so the same signature. A replay guard keys on the signature (it names the exact
bytes Twilio signed), so an app with one answers the second identical send with 409, as it
must answer a replay. Twilio gives each new message, call, recording, task or event a SID of
its own; a fresh copy does the same, and is a new webhook to the app. The account's SID
and the SIDs of services configured once (a Messaging Service, a workspace, a queue) stay.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import replace

from .events import Event

__all__ = ["PER_DELIVERY", "fresh"]

#: The prefixes of the SIDs that name what one delivery is about: a message (SM, MM), its media
#: (ME), a call (CA), a conference (CF), a recording (RE) and its transcription (TR), a
#: conversation (CH), its message (IM) and participant (MB), a task (WT) and reservation (WR), a
#: verification (VE) and its attempt (VL), an event (EV, NO for Event Streams). Not a Sync
#: document (ET): it lives on, and each update has its own revision (``--set DocumentRevision=8``).
PER_DELIVERY = frozenset(
    {"SM", "MM", "ME", "CA", "CF", "RE", "TR", "CH", "IM", "MB", "WT", "WR", "VE", "VL", "EV", "NO"}
)
_SID = re.compile(r"\b([A-Z]{2})[0-9a-f]{32}\b")


def fresh(event: Event) -> Event:
    """``event`` with a new random SID for each per-delivery SID it carries, the same one wherever it recurs.

    A kind that carries none (Frontline's CRM callbacks) comes back unchanged: compare the
    result with ``event`` to know, and change a value instead (``--set``, ``params=``).
    """
    renewed: dict[str, str] = {}

    def renew(match: re.Match[str]) -> str:
        old, prefix = match.group(0), match.group(1)
        if prefix not in PER_DELIVERY:
            return old
        return renewed.setdefault(old, prefix + secrets.token_hex(16))

    if event.body is not None:
        return replace(event, body=_SID.sub(renew, event.body))
    return replace(event, params=tuple((name, _SID.sub(renew, value)) for name, value in event.params))
