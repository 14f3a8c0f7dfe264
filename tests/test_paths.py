"""The readings of a request path that ``paths`` is tested against (src/twiliosig/_paths.py).

A path is protected when any reading a proxy or router might make of it falls under a
protected prefix; tests/attacks/test_path_scoping.py tries the same spellings on the wire.
"""

from __future__ import annotations

import pytest

from twiliosig._paths import normalise_path, path_matcher


@pytest.mark.parametrize(
    ("path", "backslashes", "normalised"),
    [
        pytest.param("/a/./b", False, "/a/b", id="dot"),
        pytest.param("/a//b", False, "/a/b", id="double-slash"),
        pytest.param("/a/b/../c", False, "/a/c", id="dot-dot"),
        pytest.param("/../../a", False, "/a", id="dot-dot-above-root"),
        pytest.param("/a/b/", False, "/a/b/", id="trailing-slash-kept"),
        pytest.param("/x/../a/b/", False, "/a/b/", id="trailing-slash-after-dot-dot"),
        pytest.param("/", False, "/", id="root"),
        pytest.param("/./", False, "/", id="root-dot"),
        pytest.param("/a/..", False, "/", id="back-to-root"),
        pytest.param("/a\\b/../c", False, "/c", id="backslash-is-a-character"),
        pytest.param("/a\\b/../c", True, "/a/c", id="backslash-separates"),
    ],
)
def test_normalise_path(path: str, backslashes: bool, normalised: str) -> None:
    """Dot segments resolved, slashes merged, a trailing slash kept; '\\' separates only when asked."""
    assert normalise_path(path, backslashes=backslashes) == normalised


@pytest.mark.parametrize(
    ("path", "resolved"),
    [
        pytest.param("/x\\y/../twilio/sms", "/twilio/sms", id="backslash-as-a-character"),
        pytest.param("/x/..\\twilio\\sms", "/twilio/sms", id="backslash-as-a-separator"),
        pytest.param("/x/../twilio/sms/", "/twilio/sms/", id="trailing-slash"),
        pytest.param("/x/%2e%2e/twilio/sms%FF", "/twilio/sms\udcff", id="escape-that-is-not-utf-8"),
    ],
)
def test_a_path_that_some_reader_resolves_into_a_prefix_is_protected(path: str, resolved: str) -> None:
    """Whether a proxy reads '\\' as a character or a separator, a path it resolves into /twilio/ is protected."""
    for matcher in (path_matcher(["/twilio/"]), path_matcher(lambda reading: reading == resolved)):
        assert matcher(path)
        assert not matcher("/status")


@pytest.mark.parametrize("prefix", ["/caf%C3%A9/", "/caf%c3%a9", "/a%20b/"])
def test_a_prefix_written_percent_encoded_protects_the_path_routers_decode(prefix: str) -> None:
    """Routers match the decoded path (``/café/x``): a prefix given encoded must protect that reading too.

    Matched only as written, ``paths=["/caf%C3%A9/"]`` would leave every request
    the router sends to ``/café/...`` unprotected.
    """
    decoded = "/café" if "caf" in prefix else "/a b"
    matcher = path_matcher([prefix])
    assert matcher(decoded + "/sms")
    assert matcher(decoded)
    assert not matcher(decoded + "x/sms")
    assert not matcher("/status")
