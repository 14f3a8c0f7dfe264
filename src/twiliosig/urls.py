"""Which forms of the received URL a signature may match.

Twilio signs the URL it requested, and the URL an application can rebuild is not
always byte-for-byte that one (the port, a trailing slash, the escaping of the query),
so the validator tries a few forms of it, most likely first. Each form is a
:class:`UrlVariant`; :data:`DEFAULT_VARIANTS` is the set tried unless you pass
``url_variants=``. Every form still has to carry a valid HMAC, so a wider set never
admits a forger: it only stops refusing genuine requests. The URL surgery itself is
private (``twiliosig._urls``).
"""

from ._urls import DEFAULT_VARIANTS, UrlVariant

__all__ = ["DEFAULT_VARIANTS", "UrlVariant"]
