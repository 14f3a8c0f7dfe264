"""One contract for both middlewares: a base test class run with a WSGI and an ASGI harness.

A harness wraps a small recording app in the middleware (built with the given
options) and sends protocol-level requests with full control of the raw target,
the headers and the body. Each test states what a user of either middleware may
rely on. Signatures come from the official ``twilio`` package, the peer.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlencode

import pytest

from tests.oracle import FORM, form_body, twilio_signature
from tests.oracle import SMS as PAIRS
from twiliosig import Reason, Verdict, body_sha256

TOKEN = "contract-test-token-0123456789abc"


@dataclass
class Seen:
    """What the protected app saw of one request that reached it."""

    body: bytes
    form: list[tuple[str, str]]
    verdict: Verdict | None


@dataclass
class Outcome:
    """The response, and every request that reached the app."""

    status: int
    body: bytes
    headers: dict[str, str]
    seen: list[Seen] = field(default_factory=list)


def sign(url: str, pairs: list[tuple[str, str]] | None = None, token: str = TOKEN) -> str:
    """The signature Twilio would send, computed by the official twilio package."""
    return twilio_signature(token, url, pairs)


class Harness:
    """Sends one request through the middleware-wrapped recording app."""

    def send(
        self,
        method: str,
        target: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        scheme: str = "https",
        host: str = "example.com",
        chunks: list[bytes] | None = None,
    ) -> Outcome:
        raise NotImplementedError


class MiddlewareContract:
    """The behaviour both middlewares share. Subclasses provide ``harness(**options)``."""

    URL: ClassVar[str] = "https://example.com/twilio/sms"

    def harness(self, **options: Any) -> Harness:
        raise NotImplementedError

    def post(self, h: Harness, pairs: list[tuple[str, str]], signature: str | None, **kwargs: Any) -> Outcome:
        headers = {"Content-Type": FORM, **kwargs.pop("headers", {})}
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        target = kwargs.pop("target", "/twilio/sms")
        return h.send("POST", target, headers=headers, body=kwargs.pop("body", form_body(pairs)), **kwargs)

    # --- genuine requests -----------------------------------------------------------

    def test_genuine_form_post_reaches_the_app_with_identical_body(self) -> None:
        """Unicode, blank and repeated names: accepted, and the app sees the exact bytes and every pair."""
        h = self.harness(auth_token=TOKEN)
        body = form_body(PAIRS)
        outcome = self.post(h, PAIRS, sign(self.URL, PAIRS), body=body)
        assert outcome.status == 200
        (seen,) = outcome.seen
        assert seen.body == body
        assert sorted(seen.form) == sorted(PAIRS)
        assert seen.verdict is not None
        assert seen.verdict.valid

    def test_get_with_query_signs_the_url_alone(self) -> None:
        """A GET webhook: the query is part of the URL, never added again as params."""
        h = self.harness(auth_token=TOKEN)
        query = urlencode([("CallSid", "CA123"), ("From", "+15005550006"), ("Digits", "1 2")])
        url = f"{self.URL}?{query}"
        outcome = h.send("GET", f"/twilio/sms?{query}", headers={"X-Twilio-Signature": sign(url)})
        assert outcome.status == 200
        assert len(outcome.seen) == 1

    def test_json_body_with_body_hash(self) -> None:
        """A JSON webhook is accepted when the URL and the body hash match; a changed body is refused."""
        h = self.harness(auth_token=TOKEN)
        body = json.dumps({"type": "com.twilio.messaging.message.delivered", "text": "héllo"}).encode()
        target = f"/twilio/events?bodySHA256={body_sha256(body)}"
        headers = {"Content-Type": "application/json", "X-Twilio-Signature": sign(f"https://example.com{target}")}
        outcome = h.send("POST", target, headers=headers, body=body)
        assert outcome.status == 200
        assert outcome.seen[0].body == body
        tampered = h.send("POST", target, headers=headers, body=body.replace(b"llo", b"LLO"))
        assert tampered.status == 403
        assert not tampered.seen

    def test_json_body_without_body_hash_is_refused(self) -> None:
        """A raw body the signature does not cover never reaches the app."""
        h = self.harness(auth_token=TOKEN)
        body = b'{"a": 1}'
        headers = {"Content-Type": "application/json", "X-Twilio-Signature": sign(self.URL)}
        outcome = h.send("POST", "/twilio/sms", headers=headers, body=body)
        assert outcome.status == 403
        assert not outcome.seen

    def test_percent_encoded_path_reaches_the_hmac_as_sent(self) -> None:
        """The raw target is signed byte for byte: %C3%A9 stays %C3%A9, %2F stays %2F."""
        h = self.harness(auth_token=TOKEN)
        target = "/twilio/caf%C3%A9/a%2Fb"
        outcome = self.post(h, PAIRS, sign(f"https://example.com{target}", PAIRS), target=target)
        assert outcome.status == 200

    def test_trailing_slash_variant(self) -> None:
        """Signed for /twilio/sms/, received at /twilio/sms: accepted by the slash variant."""
        h = self.harness(auth_token=TOKEN)
        outcome = self.post(h, PAIRS, sign(self.URL + "/", PAIRS))
        assert outcome.status == 200
        assert outcome.seen[0].verdict is not None
        assert outcome.seen[0].verdict.variant == "with a trailing slash added"

    def test_shared_key_chosen_by_the_settings_header(self) -> None:
        """A webhook signed with a shared key (HMAC-SHA256) is accepted by its key id."""
        from twiliosig import compute_signature

        h = self.harness(auth_token=TOKEN, shared_keys={"webhooks_sharedkey_1": "shared-secret"})
        signature = compute_signature("shared-secret", self.URL, PAIRS, algorithm="HMAC_SHA256")
        settings = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
        outcome = self.post(h, PAIRS, signature, headers={"X-Twilio-Webhooks-Signature-Settings": settings})
        assert outcome.status == 200

    # --- the URL Twilio called ------------------------------------------------------

    def test_public_url_behind_a_tls_proxy(self) -> None:
        """The app sees http://internal:8000 behind a proxy; public_url says what Twilio called."""
        signature = sign("https://example.com/api/twilio/sms", PAIRS)
        internal = {"scheme": "http", "host": "internal:8000"}
        refused = self.post(self.harness(auth_token=TOKEN), PAIRS, signature, **internal)
        assert refused.status == 403
        accepted = self.post(
            self.harness(auth_token=TOKEN, public_url="https://example.com/api"), PAIRS, signature, **internal
        )
        assert accepted.status == 200

    def test_trust_forwarded_on_and_off(self) -> None:
        """Forwarded headers are used only when trusted."""
        signature = sign("https://example.com/twilio/sms", PAIRS)
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "example.com"}
        internal = {"scheme": "http", "host": "10.0.0.5:8000", "headers": headers}
        assert self.post(self.harness(auth_token=TOKEN), PAIRS, signature, **internal).status == 403
        trusted = self.harness(auth_token=TOKEN, trust_forwarded=True)
        assert self.post(trusted, PAIRS, signature, **internal).status == 200
        rfc7239 = {**internal, "headers": {"Forwarded": 'for=1.2.3.4;proto=https;host="example.com"'}}
        assert self.post(trusted, PAIRS, signature, **rfc7239).status == 403  # Forwarded is not trusted by True
        trusted_rfc7239 = self.harness(auth_token=TOKEN, trust_forwarded={"forwarded": 1})
        assert self.post(trusted_rfc7239, PAIRS, signature, **rfc7239).status == 200

    def test_trusted_proxy_value_wins_over_a_client_supplied_one(self) -> None:
        """With one trusted proxy, a host the client put ahead of the proxy's own is ignored."""
        signature = sign("https://other-app.example/twilio/sms", PAIRS)  # signed for another URL
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "other-app.example, example.com"}
        h = self.harness(auth_token=TOKEN, trust_forwarded=1)
        outcome = self.post(h, PAIRS, signature, scheme="http", host="10.0.0.5", headers=headers)
        assert outcome.status == 403

    # --- refusals -------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("case", "status"),
        [
            ("missing", 403),
            ("empty", 403),
            ("forged", 403),
            ("tampered-value", 403),
            ("added-param", 403),
            ("other-url", 403),
            ("non-base64", 403),
            ("garbage-signature", 403),
            ("sha256-without-settings", 403),
        ],
    )
    def test_refused_without_the_app_running(self, case: str, status: int) -> None:
        """Missing, forged or tampered requests get a short text/plain 4xx and never reach the app."""
        h = self.harness(auth_token=TOKEN)
        pairs, signature = list(PAIRS), sign(self.URL, PAIRS)
        body = None
        if case == "missing":
            signature = None  # type: ignore[assignment]
        elif case == "empty":
            signature = ""
        elif case == "forged":
            signature = sign(self.URL, PAIRS, token="wrong-token")
        elif case == "tampered-value":
            body = form_body([(k, v + "!" if k == "Body" else v) for k, v in PAIRS])
        elif case == "added-param":
            body = form_body([*PAIRS, ("Extra", "1")])
        elif case == "other-url":
            signature = sign("https://example.com/twilio/voice", PAIRS)
        elif case == "non-base64":
            signature = "!" * 28
        elif case == "garbage-signature":
            signature = "\x01\x02 ;,=" * 400
        else:
            from twiliosig import compute_signature

            signature = compute_signature(TOKEN, self.URL, PAIRS, algorithm="HMAC_SHA256")
        kwargs = {} if body is None else {"body": body}
        outcome = self.post(h, pairs, signature, **kwargs)
        assert outcome.status == status
        assert not outcome.seen
        assert outcome.headers["content-type"].startswith("text/plain")
        assert len(outcome.body) < 40
        assert TOKEN.encode() not in outcome.body

    def test_oversized_body_is_413_and_never_reaches_the_app(self) -> None:
        """A body over max_body_size is refused with 413 before it is buffered."""
        h = self.harness(auth_token=TOKEN, max_body_size=1000)
        big = form_body([("Body", "x" * 2000)])
        outcome = self.post(h, [], sign(self.URL, [("Body", "x" * 2000)]), body=big)
        assert outcome.status == 413
        assert not outcome.seen

    @pytest.mark.parametrize(
        ("case", "headers", "body"),
        [
            ("invalid-utf8-form", {"Content-Type": FORM}, b"Body=caf\xe9"),
            ("invalid-utf8-escape", {"Content-Type": FORM}, b"Body=caf%E9"),
            ("broken-percent-escape", {"Content-Type": FORM}, b"Body=100%&x=%zz%"),
            ("binary-junk", {"Content-Type": FORM}, bytes(range(256))),
            ("binary-octet-stream", {"Content-Type": "application/octet-stream"}, bytes(range(256))),
            ("no-content-type", {}, b"Body=hello"),
            ("non-ascii-signature", {"Content-Type": FORM, "X-Twilio-Signature": "sïgnature"}, b"a=1"),
            ("huge-header", {"Content-Type": FORM, "X-Twilio-Signature": "A" * 60_000}, b"a=1"),
            ("bad-settings", {"Content-Type": FORM, "X-Twilio-Webhooks-Signature-Settings": "==,,"}, b"a=1"),
        ],
    )
    def test_garbage_gets_a_4xx_never_a_500(self, case: str, headers: dict[str, str], body: bytes) -> None:
        """Invalid UTF-8, broken escapes, binary junk and absurd headers: a clear 4xx, the app untouched."""
        h = self.harness(auth_token=TOKEN)
        headers = {"X-Twilio-Signature": sign(self.URL, PAIRS), **headers}
        outcome = h.send("POST", "/twilio/sms", headers=headers, body=body)
        assert 400 <= outcome.status < 500
        assert not outcome.seen

    def test_unusable_host_header_is_400(self) -> None:
        """A Host header that would change the URL's structure is refused as a bad request."""
        h = self.harness(auth_token=TOKEN)
        outcome = self.post(h, PAIRS, sign(self.URL, PAIRS), host="example.com/evil?x=")
        assert outcome.status == 400
        assert not outcome.seen

    # --- options ----------------------------------------------------------------------

    def test_unprotected_paths_pass_untouched(self) -> None:
        """Only the configured prefixes must be signed; others reach the app as they are."""
        h = self.harness(auth_token=TOKEN, paths=["/twilio/"])
        outcome = h.send("POST", "/health", headers={"Content-Type": FORM}, body=b"a=1")
        assert outcome.status == 200
        assert outcome.seen[0].body == b"a=1"
        assert outcome.seen[0].verdict is None
        assert h.send("POST", "/twilio/sms", headers={"Content-Type": FORM}, body=b"a=1").status == 403
        assert h.send("POST", "//twilio/../twilio/sms", headers={"Content-Type": FORM}, body=b"a=1").status == 403

    def test_report_only_logs_and_lets_through(self, caplog: pytest.LogCaptureFixture) -> None:
        """report_only: the refusal is logged and the request reaches the app with the failing verdict."""
        h = self.harness(auth_token=TOKEN, report_only=True)
        with caplog.at_level(logging.WARNING, logger="twiliosig"):
            outcome = self.post(h, PAIRS, sign(self.URL, PAIRS, token="wrong"))
        assert outcome.status == 200
        (seen,) = outcome.seen
        assert seen.verdict is not None
        assert seen.verdict.reason is Reason.SIGNATURE_MISMATCH
        assert [r.twiliosig_reason for r in caplog.records] == ["signature_mismatch"]  # type: ignore[attr-defined]

    def test_one_log_record_per_refusal_without_secrets(self, caplog: pytest.LogCaptureFixture) -> None:
        """Each refusal logs once, with reason, method and path, never the token or a signature."""
        h = self.harness(auth_token=TOKEN)
        forged = sign(self.URL, PAIRS, token="wrong")
        with caplog.at_level(logging.DEBUG, logger="twiliosig"):
            self.post(h, PAIRS, forged)
        (record,) = caplog.records
        text = record.getMessage()
        assert "signature_mismatch" in text
        assert "POST" in text
        assert "/twilio/sms" in text
        for secret in (TOKEN, forged, sign(self.URL, PAIRS)):
            assert secret not in text

    def test_on_reject_gets_the_verdict_and_request_info(self) -> None:
        """on_reject is called once per refusal; an exception in it is logged, not raised."""
        calls: list[tuple[Any, Any]] = []
        h = self.harness(auth_token=TOKEN, on_reject=lambda verdict, info: calls.append((verdict, info)))
        self.post(h, PAIRS, None)
        ((verdict, info),) = calls
        assert verdict.reason is Reason.MISSING_SIGNATURE
        assert (info.method, info.path, info.url) == ("POST", "/twilio/sms", self.URL)

        def explode(verdict: Verdict, info: Any) -> None:
            raise RuntimeError("metrics down")

        assert self.post(self.harness(auth_token=TOKEN, on_reject=explode), PAIRS, None).status == 403

    def test_token_from_the_environment_and_fail_closed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """TWILIO_AUTH_TOKEN is read at construction; without any secret construction fails."""
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
        h = self.harness()
        monkeypatch.delenv("TWILIO_AUTH_TOKEN")
        assert self.post(h, PAIRS, sign(self.URL, PAIRS)).status == 200
        with pytest.raises(ValueError, match="TWILIO_AUTH_TOKEN"):
            self.harness()
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", "")
        with pytest.raises(ValueError, match="TWILIO_AUTH_TOKEN"):
            self.harness()

    @pytest.mark.parametrize(
        ("options", "error"),
        [
            ({"auth_token": ""}, ValueError),
            ({"auth_token": None}, ValueError),
            ({"auth_token": TOKEN, "paths": "/twilio/"}, TypeError),
            ({"auth_token": TOKEN, "paths": ["twilio"]}, ValueError),
            ({"auth_token": TOKEN, "public_url": "example.com"}, ValueError),
            ({"auth_token": TOKEN, "public_url": "https://example.com/?x=1"}, ValueError),
            ({"auth_token": TOKEN, "max_body_size": 0}, ValueError),
            ({"auth_token": TOKEN, "trust_forwarded": "yes"}, TypeError),
            ({"auth_token": TOKEN, "on_reject": "log"}, TypeError),
        ],
    )
    def test_bad_configuration_raises_at_construction(self, options: dict[str, Any], error: type) -> None:
        """Every misconfiguration is loud when the middleware is built."""
        with pytest.raises(error):
            self.harness(**options)

    # --- hardening: what an attacker who has read the code would try -----------------

    @pytest.mark.parametrize(
        "target",
        [
            "/twilio/%2e%2e/status",
            "/twilio/x/../..",
            "/twilio/..%2Fstatus",
            "/twilio/../status",
            "//twilio/sms",
            "/./twilio/sms",
            "/x/../twilio/sms",
            "/%74wilio/sms",
            "/%2574wilio/sms",
            "/x\\..\\twilio\\sms",
        ],
    )
    @pytest.mark.parametrize("kind", ["prefixes", "callable"])
    def test_paths_protect_every_reading_of_the_path(self, target: str, kind: str) -> None:
        """An unsigned request cannot leave (or enter unnoticed) a protected prefix by how its path is spelled."""
        paths: Any = ["/twilio/"] if kind == "prefixes" else (lambda path: path.startswith("/twilio/"))
        h = self.harness(auth_token=TOKEN, paths=paths)
        outcome = h.send("POST", target, headers={"Content-Type": FORM}, body=form_body(PAIRS))
        assert outcome.status == 403
        assert not outcome.seen
        assert h.send("GET", "/status").status == 200  # an unprotected path still passes

    def test_a_paths_callable_that_raises_protects(self) -> None:
        """A broken paths callable fails closed: the request is checked, never waved through."""

        def broken(path: str) -> bool:
            raise KeyError(path)

        h = self.harness(auth_token=TOKEN, paths=broken)
        assert self.post(h, PAIRS, None).status == 403
        assert self.post(h, PAIRS, sign(self.URL, PAIRS)).status == 200

    @pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"])
    def test_methods_twilio_never_sends_are_refused(self, method: str) -> None:
        """A captured GET's signature covers no method: re-sent as DELETE (or PUT...) it gets 405."""
        h = self.harness(auth_token=TOKEN)
        target = "/twilio/sms?CallSid=CA1"
        outcome = h.send(method, target, headers={"X-Twilio-Signature": sign("https://example.com" + target)})
        assert outcome.status == 405
        assert outcome.headers["allow"] == "GET, POST"
        assert not outcome.seen

    def test_methods_can_be_widened(self) -> None:
        """methods= lets a user accept another method, still signed."""
        h = self.harness(auth_token=TOKEN, methods=["GET", "POST", "PUT"])
        target = "/twilio/sms?CallSid=CA1"
        assert h.send("PUT", target, headers={"X-Twilio-Signature": sign("https://example.com" + target)}).status == 200
        assert h.send("PUT", target, headers={"X-Twilio-Signature": sign("https://example.com/other")}).status == 403
        assert h.send("DELETE", target).status == 405

    def test_two_account_sids_are_refused_with_per_account_tokens(self) -> None:
        """A tenant signing AccountSid=A&AccountSid=B with its own token is never handled as B."""
        a, b = "AC" + "a" * 32, "AC" + "b" * 32
        tokens = {a: "token-of-tenant-a-0123456789abcd", b: "token-of-tenant-b-0123456789abcd"}
        refused: list[Verdict] = []
        h = self.harness(auth_token=tokens.get, on_reject=lambda verdict, info: refused.append(verdict))
        both = [("AccountSid", a), ("AccountSid", b), ("Body", "hi")]
        assert self.post(h, both, sign(self.URL, both, token=tokens[a])).status == 403
        in_query = [("AccountSid", a), ("Body", "hi")]
        url = f"{self.URL}?AccountSid={b}"
        outcome = self.post(h, in_query, sign(url, in_query, token=tokens[a]), target=f"/twilio/sms?AccountSid={b}")
        assert outcome.status == 403
        assert [verdict.reason for verdict in refused] == [Reason.AMBIGUOUS_ACCOUNT] * 2
        assert not outcome.seen
        repeated = [("AccountSid", a), ("AccountSid", a), ("Body", "hi")]
        assert self.post(h, repeated, sign(self.URL, repeated, token=tokens[a])).status == 200

    @pytest.mark.parametrize("name", ["Account%53id", "%41ccountSid", "AccountSi%64"])
    def test_an_escaped_account_sid_name_in_the_query_counts(self, name: str) -> None:
        """Account%53id=B in the query is AccountSid=B to every framework: with A in the body, refused."""
        a, b = "AC" + "a" * 32, "AC" + "b" * 32
        tokens = {a: "token-of-tenant-a-0123456789abcd", b: "token-of-tenant-b-0123456789abcd"}
        h = self.harness(auth_token=tokens.get)
        pairs = [("AccountSid", a), ("Body", "hi")]
        query = f"{name}={b}"
        signature = sign(f"{self.URL}?{query}", pairs, token=tokens[a])
        outcome = self.post(h, pairs, signature, target=f"/twilio/sms?{query}")
        assert outcome.status == 403
        assert not outcome.seen

    @pytest.mark.parametrize(
        "content_type",
        [
            "text/plain; charset=utf-7",
            "text/plain; charset*=us-ascii''utf-7",
            "text/plain; charset*0=utf-; charset*1=7",
        ],
    )
    def test_a_foreign_charset_is_refused_whatever_the_media_type(self, content_type: str) -> None:
        """Django decodes the query by the declared charset (UTF-7 makes +ACY- an '&'): refused on a GET too."""
        h = self.harness(auth_token=TOKEN)
        target = "/twilio/sms?AccountSid=ACa&x=+ACY-AccountSid+AD0-ACb"
        headers = {"X-Twilio-Signature": sign("https://example.com" + target), "Content-Type": content_type}
        outcome = h.send("GET", target, headers=headers)
        assert outcome.status == 400
        assert not outcome.seen

    def test_raw_non_ascii_in_a_form_body_is_refused(self) -> None:
        """Raw UTF-8 in a form body: werkzeug and Django read it as UTF-8, Starlette as latin-1; refused."""
        h = self.harness(auth_token=TOKEN)
        pairs = [("Body", "café")]
        raw = "Body=café".encode()
        outcome = self.post(h, pairs, sign(self.URL, pairs), body=raw)
        assert outcome.status == 400
        assert not outcome.seen

    @pytest.mark.parametrize(("charset", "status"), [("iso-8859-1", 400), ('"latin1"', 400), ("UTF-8", 200)])
    def test_a_form_body_in_another_charset_is_refused(self, charset: str, status: int) -> None:
        """A declared charset Django would honour (and we would not) is refused; UTF-8 is fine."""
        h = self.harness(auth_token=TOKEN)
        headers = {"Content-Type": f"{FORM}; charset={charset}"}
        assert self.post(h, PAIRS, sign(self.URL, PAIRS), headers=headers).status == status

    @pytest.mark.parametrize(
        ("header", "value", "url"),
        [
            ("X-Forwarded-Prefix", "/public", "https://example.com/public/twilio/sms"),
            ("X-Forwarded-Port", "8443", "https://example.com:8443/twilio/sms"),
            ("Forwarded", "proto=https;host=other.example", "https://other.example/twilio/sms"),
        ],
    )
    def test_trust_forwarded_true_believes_only_proto_and_host(self, header: str, value: str, url: str) -> None:
        """Behind a proxy that sets only X-Forwarded-Proto/Host, a client's own prefix, port or Forwarded is ignored."""
        h = self.harness(auth_token=TOKEN, trust_forwarded=True)
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "example.com", header: value}
        outcome = self.post(h, PAIRS, sign(url, PAIRS), scheme="http", host="10.0.0.5:8000", headers=headers)
        assert outcome.status == 403
        named = {"X-Forwarded-Prefix": "x_prefix", "X-Forwarded-Port": "x_port"}.get(header)
        if named is not None:  # named in the mapping, the header is believed
            trusting = self.harness(auth_token=TOKEN, trust_forwarded={"x_proto": 1, "x_host": 1, named: 1})
            accepted = self.post(trusting, PAIRS, sign(url, PAIRS), scheme="http", host="10.0.0.5", headers=headers)
            assert accepted.status == 200

    @pytest.mark.parametrize(
        ("header", "value"),
        [
            ("X-Forwarded-Host", "evil.example@example.com"),
            ("X-Forwarded-Host", "example.com/path"),
            ("X-Forwarded-Host", "exa mple.com"),
            ("X-Forwarded-Proto", "gopher"),
            ("X-Forwarded-Port", "99999"),
            ("X-Forwarded-Port", "443abc"),
            ("X-Forwarded-Prefix", "@other.example.com"),
            ("X-Forwarded-Prefix", "api"),
        ],
    )
    def test_trusted_forwarding_values_are_validated(self, header: str, value: str) -> None:
        """A trusted header must hold what it names: a prefix '@other.example.com' never becomes userinfo."""
        trust = {"x_proto": 1, "x_host": 1, "x_port": 1, "x_prefix": 1}
        h = self.harness(auth_token=TOKEN, trust_forwarded=trust)
        outcome = self.post(h, PAIRS, sign(self.URL, PAIRS), scheme="http", host="10.0.0.5", headers={header: value})
        assert outcome.status == 400
        assert not outcome.seen

    def test_a_client_value_left_of_the_trusted_hops_is_ignored(self) -> None:
        """With two proxies appending to each header, only the two right-most values count: the client's is ignored."""
        h = self.harness(auth_token=TOKEN, trust_forwarded={"x_proto": 2, "x_host": 2})
        headers = {"X-Forwarded-Proto": "https,https", "X-Forwarded-Host": "attacker.example, example.com, lb.local"}
        outcome = self.post(h, PAIRS, sign(self.URL, PAIRS), scheme="http", host="10.0.0.5", headers=headers)
        assert outcome.status == 200
        assert outcome.seen[0].verdict is not None

    @pytest.mark.parametrize(
        "options",
        [
            {"report_only": "false"},
            {"report_only": 0},
            {"enabled": "false"},
            {"require_https": "yes"},
            {"trust_forwarded": "1"},
            {"trust_forwarded": {"x_proto": True}},
            {"trust_forwarded": {"x_forwardedd": 1}},
            {"trust_forwarded": {"forwarded": 1, "x_host": 1}},
            {"trust_forwarded": -1},
            {"trust_forwarded": 2},
            {"paths": "/twilio/"},
            {"methods": "POST"},
            {"methods": []},
            {"public_url": "https://example.com", "trust_forwarded": True},
            {"paths": ["/twilio/*"]},
            {"paths": ["/twilio/.*$"]},
            {"paths": ["/twilio/<path:event>"]},
            {"auth_token": TOKEN.encode()},
        ],
    )
    def test_configuration_that_could_open_the_door_fails_at_construction(self, options: dict[str, Any]) -> None:
        """A string where a bool belongs (an environment variable's "false") is an error, never a quiet True."""
        with pytest.raises((TypeError, ValueError)):
            self.harness(**{"auth_token": TOKEN, **options})

    def test_an_explicit_none_token_says_the_variable_is_ignored(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """auth_token=None with TWILIO_AUTH_TOKEN set: the error says the variable was not used, and how to use it."""
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
        with pytest.raises(ValueError, match="leave auth_token out"):
            self.harness(auth_token=None)

    @pytest.mark.parametrize(("name", "suggested"), [("path", "paths"), ("report_mode", "report_only")])
    def test_an_unknown_option_name_suggests_the_right_one(self, name: str, suggested: str) -> None:
        """A typo in an option name fails at construction and names the option meant."""
        with pytest.raises(TypeError, match=f"no option '{name}'; did you mean '{suggested}'"):
            self.harness(auth_token=TOKEN, **{name: ["/twilio/"]})

    def test_the_replay_key_does_not_depend_on_the_url_parameter_boundary(self) -> None:
        """?order=42 + AccountSid=X and ?order=4 + 2AccountSid=X sign the same bytes: the copy is a replay."""
        from twiliosig.replay import MemoryReplayStore

        h = self.harness(auth_token=TOKEN, replay_guard=MemoryReplayStore())
        original = [("AccountSid", "X")]
        signature = sign(f"{self.URL}?order=42", original)
        assert sign(f"{self.URL}?order=4", [("2AccountSid", "X")]) == signature
        assert self.post(h, original, signature, target="/twilio/sms?order=42").status == 200
        moved = self.post(h, [("2AccountSid", "X")], signature, target="/twilio/sms?order=4")
        assert moved.status == 409
        assert not moved.seen


class ReplayContract:
    """Replay guard, require_https and Basic authentication: the same in both middlewares."""

    URL: ClassVar[str] = "https://example.com/twilio/sms"

    def harness(self, **options: Any) -> Harness:
        raise NotImplementedError

    def post(self, h: Harness, target: str, signature: str | None, **kwargs: Any) -> Outcome:
        headers = {"Content-Type": FORM, **kwargs.pop("headers", {})}
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        return h.send("POST", target, headers=headers, body=form_body(PAIRS), **kwargs)

    def test_a_replay_is_refused_with_409(self) -> None:
        """The first copy of a signed request proceeds; the second never reaches the app."""
        from twiliosig.replay import MemoryReplayStore

        h = self.harness(auth_token=TOKEN, replay_guard=MemoryReplayStore(ttl=60))
        signature = sign(self.URL, PAIRS)
        assert self.post(h, "/twilio/sms", signature).status == 200
        replayed = self.post(h, "/twilio/sms", signature)
        assert replayed.status == 409
        assert not replayed.seen
        assert replayed.body == b"Conflict\n"

    def test_a_failed_delivery_can_be_retried(self) -> None:
        """After a 5xx the key is released: Twilio's retry reaches the app again."""
        from twiliosig.replay import MemoryReplayStore

        h = self.harness(auth_token=TOKEN, replay_guard=MemoryReplayStore(ttl=60))
        url = "https://example.com/twilio/fail500"
        signature = sign(url, PAIRS)
        first = self.post(h, "/twilio/fail500", signature)
        assert first.status == 500
        assert len(first.seen) == 1
        assert len(self.post(h, "/twilio/fail500", signature).seen) == 1

    def test_an_app_exception_releases_the_key(self) -> None:
        """An app that raises releases the key too; the exception still propagates."""
        from twiliosig.replay import MemoryReplayStore

        store = MemoryReplayStore(ttl=60)
        h = self.harness(auth_token=TOKEN, replay_guard=store)
        signature = sign("https://example.com/twilio/raise", PAIRS)
        for _ in range(2):
            with pytest.raises(RuntimeError, match="the app failed"):
                self.post(h, "/twilio/raise", signature)
        assert len(store) == 0

    @pytest.mark.parametrize(("on_store_error", "status"), [("refuse", 503), ("allow", 200)])
    def test_store_unavailable(self, on_store_error: str, status: int) -> None:
        """A store that cannot be reached: 503 by default, or let through with on_store_error='allow'."""
        from twiliosig.replay import MemoryReplayStore, StoreUnavailable

        class Down(MemoryReplayStore):
            def claim(self, key: str) -> str | None:
                raise StoreUnavailable("connection refused")

            async def aclaim(self, key: str) -> str | None:
                raise StoreUnavailable("connection refused")

        h = self.harness(auth_token=TOKEN, replay_guard=Down(), on_store_error=on_store_error)
        outcome = self.post(h, "/twilio/sms", sign(self.URL, PAIRS))
        assert outcome.status == status
        assert bool(outcome.seen) is (status == 200)

    def test_require_https(self) -> None:
        """require_https refuses a request whose rebuilt URL is http, even when correctly signed."""
        h = self.harness(auth_token=TOKEN, require_https=True)
        http_url = "http://example.com/twilio/sms"
        refused = self.post(h, "/twilio/sms", sign(http_url, PAIRS), scheme="http")
        assert refused.status == 403
        assert not refused.seen
        assert self.post(h, "/twilio/sms", sign(self.URL, PAIRS)).status == 200
        proxied = self.harness(auth_token=TOKEN, require_https=True, public_url="https://example.com")
        assert self.post(proxied, "/twilio/sms", sign(self.URL, PAIRS), scheme="http").status == 200

    def test_require_https_asks_for_no_credentials_over_http(self) -> None:
        """Over http with require_https, a 403 and no challenge: a 401 would have Twilio send the password in clear.

        Twilio sends Basic credentials (the password itself) only in answer to a challenge;
        the request is refused anyway once they arrive, so the challenge only exposes them.
        """
        h = self.harness(
            auth_token=TOKEN,
            require_https=True,
            basic_auth={"twilio": "s3cret pass"},
            digest_auth={"twilio": "s3cret pass"},
        )
        refused = self.post(h, "/twilio/sms", sign("http://example.com/twilio/sms", PAIRS), scheme="http")
        assert refused.status == 403
        assert "www-authenticate" not in refused.headers
        assert not refused.seen

    def test_basic_auth(self) -> None:
        """Without credentials: 401 with a Basic challenge (Twilio retries with them); then the signature."""
        import base64

        h = self.harness(auth_token=TOKEN, basic_auth={"twilio": "s3cret pass"})
        signature = sign(self.URL, PAIRS)
        missing = self.post(h, "/twilio/sms", signature)
        assert missing.status == 401
        assert missing.headers["www-authenticate"].startswith("Basic realm=")
        assert not missing.seen

        def credentials(user: str, password: str) -> dict[str, str]:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            return {"Authorization": f"Basic {token}"}

        assert self.post(h, "/twilio/sms", signature, headers=credentials("twilio", "wrong")).status == 401
        assert self.post(h, "/twilio/sms", signature, headers={"Authorization": "Basic !!!"}).status == 401
        good = credentials("twilio", "s3cret pass")
        assert self.post(h, "/twilio/sms", signature, headers=good).status == 200
        assert self.post(h, "/twilio/sms", sign(self.URL, PAIRS, token="x"), headers=good).status == 403

    @pytest.mark.parametrize(
        ("options", "error"),
        [
            ({"replay_guard": "redis://localhost"}, TypeError),
            ({"on_store_error": "ignore"}, ValueError),
            ({"basic_auth": {}}, TypeError),
            ({"basic_auth": {"a:b": "c"}}, ValueError),
            ({"basic_auth": {"user": ""}}, ValueError),
        ],
    )
    def test_bad_defense_options_raise_at_construction(self, options: dict[str, Any], error: type) -> None:
        """Misconfigured replay, store-error or Basic options fail when the middleware is built."""
        with pytest.raises(error):
            self.harness(auth_token=TOKEN, **options)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
