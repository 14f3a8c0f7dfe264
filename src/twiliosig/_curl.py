"""Read a curl command line as curl would send it: the URL, the headers and the body.

Used by ``twiliosig explain --from-curl``. A curl command is how people share a
request that was refused ("this is what Twilio sent"), so the body must be built
byte for byte as curl builds it, or the explanation is about another request:

- ``-d``/``--data``/``--data-ascii`` (``@file`` read without CR and LF),
  ``--data-binary`` (``@file`` read as is), ``--data-raw`` (no ``@``), joined
  with ``&``, sent as ``application/x-www-form-urlencoded`` unless a header says
  otherwise;
- ``--data-urlencode`` in all five of curl's forms (``content``, ``=content``,
  ``name=content``, ``@file``, ``name@file``), escaped as curl escapes (every
  byte but letters, digits and ``-._~``; a space as ``+`` since curl 7.86);
- ``--json`` (curl 7.82): the data as is, concatenated with no separator, sent
  as ``application/json`` unless ``-H`` overrides;
- ``-F``/``--form`` and ``--form-string``: a ``multipart/form-data`` body, kept
  with its text fields, since Twilio never sends one and the explanation should
  say so;
- ``-G`` moves the data into the query; ``--url-query`` (curl 7.87) adds to it.

Anything else that changes what is sent (an option we do not know, an upload, a
config file, a second URL) is an error that names it: a guess would explain a
request nobody sent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote_plus

__all__ = ["CurlRequest", "parse_curl", "shell_words"]

#: What curl sends as the multipart boundary is random; any fixed one describes the same request.
BOUNDARY = "------------------------twiliosig0123456789"

# Options that only change how curl connects, reports or saves: ignored. Short ones as letters.
_FLAGS = {
    "--silent", "--show-error", "--verbose", "--include", "--insecure", "--location", "--location-trusted",
    "--fail", "--fail-with-body", "--fail-early", "--compressed", "--progress-bar", "--no-progress-meter",
    "--no-buffer", "--no-keepalive", "--globoff", "--path-as-is", "--http1.0", "--http1.1", "--http2",
    "--http2-prior-knowledge", "--http3", "--http3-only", "--ipv4", "--ipv6", "--tlsv1", "--tlsv1.0",
    "--tlsv1.1", "--tlsv1.2", "--tlsv1.3", "--sslv2", "--sslv3", "--ssl", "--ssl-reqd", "--netrc",
    "--netrc-optional", "--anyauth", "--basic", "--digest", "--ntlm", "--negotiate", "--raw", "--tr-encoding",
    "--remote-name", "--remote-name-all", "--remote-header-name", "--remote-time", "--create-dirs",
    "--proxytunnel", "--post301", "--post302", "--post303", "--junk-session-cookies", "--parallel",
    "--styled-output", "--no-styled-output", "--no-sessionid", "--no-alpn", "--no-npn", "--disable", "--manual",
    "--help", "--version", "--tcp-nodelay", "--tcp-fastopen", "--compressed-ssh", "--disallow-username-in-url",
}  # fmt: skip
_SHORT_FLAGS = set("sSvikLfgNnjpOJRZqM#0123456")
# Options that take a value and only change how curl connects, reports or saves: value skipped.
_IGNORED_VALUES = {
    "--output", "--user-agent", "--referer", "--cookie", "--cookie-jar", "--user", "--max-time",
    "--connect-timeout", "--write-out", "--proxy", "--proxy-user", "--resolve", "--connect-to", "--cacert",
    "--capath", "--cert", "--key", "--cert-type", "--key-type", "--pass", "--retry", "--retry-delay",
    "--retry-max-time", "--limit-rate", "--speed-time", "--speed-limit", "--max-redirs", "--interface",
    "--dns-servers", "--trace", "--trace-ascii", "--dump-header", "--stderr", "--oauth2-bearer", "--proto",
    "--proto-redir", "--unix-socket", "--abstract-unix-socket", "--noproxy", "--ciphers", "--pinnedpubkey",
    "--max-filesize", "--keepalive-time", "--local-port", "--happy-eyeballs-timeout-ms", "--expect100-timeout",
    "--output-dir", "--trace-config", "--ca-native", "--proxy-cacert", "--proxy-insecure", "--aws-sigv4",
}  # fmt: skip
_SHORT_IGNORED_VALUES = {
    "o": "--output", "A": "--user-agent", "e": "--referer", "b": "--cookie", "c": "--cookie-jar",
    "u": "--user", "m": "--max-time", "w": "--write-out", "x": "--proxy", "U": "--proxy-user",
    "E": "--cert", "y": "--speed-time", "Y": "--speed-limit", "D": "--dump-header",
}  # fmt: skip
# Options that take a value and change the request: read below.
_SHORT_READ = {"d": "--data", "H": "--header", "X": "--request", "F": "--form", "G": "--get", "I": "--head"}
_READ_VALUES = {
    "--data", "--data-ascii", "--data-binary", "--data-raw", "--data-urlencode", "--json", "--form",
    "--form-string", "--header", "--request", "--url", "--url-query",
}  # fmt: skip
# Options that change what is sent in ways we do not rebuild.
_UNREADABLE = {
    "T": "--upload-file", "K": "--config", "r": "--range", "z": "--time-cond", "C": "--continue-at",
    "Q": "--quote", "t": "--telnet-option", "P": "--ftp-port",
}  # fmt: skip
_UNREADABLE_LONG = set(_UNREADABLE.values()) | {"--variable", "--expand-data", "--expand-url", "--expand-header"}


@dataclass
class CurlRequest:
    """What curl would send, as far as the signature is concerned.

    Attributes:
        url: The URL, with ``-G`` data and ``--url-query`` in its query.
        headers: Header values by lower-case name (the last ``-H`` wins).
        body: The body bytes.
        form_fields: With ``-F``: the text fields of the multipart body, in
            order (a file upload is not a field); None otherwise.
        method: The method: ``-X`` when given, else POST with a body and GET
            without (it does not enter the signature, but the middlewares
            refuse a method Twilio never sends).
    """

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    form_fields: list[tuple[str, str]] | None = None
    method: str = "GET"


def curl_escape(data: bytes) -> str:
    """Percent-encode every byte but ASCII letters, digits and ``-._~``, a space as ``+``, as curl 7.86+ does."""
    return quote_plus(data, safe="")


# One piece of a POSIX shell word: blanks between words, a single-quoted string, a
# double-quoted one (a backslash escapes the next character), an escaped character, or a run
# of anything else.
_SHELL_PIECE = re.compile(
    r"(?P<blank>[ \t\r\n]+)"
    r"|'(?P<single>[^']*)'"
    r'|"(?P<double>(?:[^"\\]|\\.)*)"'
    r"|\\(?P<escaped>.)"
    r"""|(?P<plain>[^ \t\r\n'"\\]+)""",
    re.DOTALL,
)
# In double quotes a backslash escapes only a double quote or a backslash; elsewhere it stays.
_DOUBLE_QUOTED_ESCAPE = re.compile(r'\\(["\\])')


def shell_words(command: str) -> list[str]:
    """The words of a command line as a POSIX shell splits them: ``shlex.split`` in linear time.

    ``shlex`` adds each character of a word to the word so far, a cost
    quadratic in a word's length: a curl command carrying a 1 MB body in
    ``-d '...'`` took 16 s to split. Here each piece is one match of a pattern and a
    word is joined once.

    Raises:
        ValueError: an unclosed quote, or a backslash at the very end.
    """
    words: list[str] = []
    word: list[str] | None = None
    position, end = 0, len(command)
    while position < end:
        match = _SHELL_PIECE.match(command, position)
        if match is None:  # an unclosed quote, or a backslash with nothing after it (shlex's words for both)
            escape_at_end = (len(command) - len(command.rstrip("\\"))) % 2 == 1 and command[position] != "'"
            raise ValueError("No escaped character" if escape_at_end else "No closing quotation")
        position = match.end()
        kind = match.lastgroup
        assert kind is not None  # every alternative is a named group
        if kind == "blank":
            if word is not None:
                words.append("".join(word))
                word = None
            continue
        if word is None:
            word = []
        text = match.group(kind)
        if kind == "double":
            text = "".join(_DOUBLE_QUOTED_ESCAPE.split(text))  # each escape's character kept, its backslash not
        word.append(text)
    if word is not None:
        words.append("".join(word))
    return words


def parse_curl(command: str, read: Callable[[str], bytes]) -> CurlRequest:
    """The request a curl command line sends.

    Args:
        command: The command line, ``curl`` first or not; backslash-newline
            continuations are joined.
        read: Reads a file named after ``@`` (``-`` for stdin).

    Raises:
        ValueError: the command cannot be split into words, names an option
            that changes the request in a way not rebuilt here, has no URL or
            two, or combines ``-F`` with ``-d``/``--json`` (curl refuses that too).
    """
    try:
        words = shell_words(command.replace("\\\r\n", " ").replace("\\\n", " "))
    except ValueError as error:
        raise ValueError(f"cannot read the curl command: {error}") from None
    if words and os.path.basename(words[0]) in ("curl", "curl.exe"):
        words = words[1:]

    urls: list[str] = []
    headers: dict[str, str] = {}
    data: list[bytes] = []  # joined once at the end: joining as they come is quadratic in the pieces
    has_data = json_data = False
    form: list[tuple[str, str, bytes, str | None]] = []  # name, filename or "", content, content type
    queries: list[str] = []
    as_get = False
    method = None
    position = 0

    def value_of(option: str, attached: str | None) -> str:
        nonlocal position
        if attached:
            return attached
        if position >= len(words):
            raise ValueError(f"the curl option {option} needs a value")
        position += 1
        return words[position - 1]

    while position < len(words):
        word = words[position]
        position += 1
        options: list[tuple[str, str | None]] = []
        if word.startswith("--") and len(word) > 2:
            options.append((word, None))
        elif word.startswith("-") and len(word) > 1:
            # A cluster of short options (-sSL); the first that takes a value takes the rest of the word.
            # The rest of the word is cut only for the option that takes it: cut for every
            # letter, a long cluster would cost time quadratic in its length.
            for index, letter in enumerate(word[1:], 1):
                if letter in _SHORT_FLAGS:
                    options.append((f"-{letter}", None))
                elif letter in _SHORT_IGNORED_VALUES:
                    options.append((_SHORT_IGNORED_VALUES[letter], word[index + 1 :] or None))
                    break
                elif letter in ("G", "I"):
                    options.append((_SHORT_READ[letter], None))
                elif letter in _SHORT_READ:
                    options.append((_SHORT_READ[letter], word[index + 1 :] or None))
                    break
                elif letter in _UNREADABLE:
                    options.append((_UNREADABLE[letter], word[index + 1 :] or None))
                    break
                else:
                    raise ValueError(f"cannot read the curl option -{letter} in {word!r}")
        else:
            urls.append(word)
            continue

        for option, attached in options:
            if option in _FLAGS or len(option) == 2:
                continue  # a short flag, or a long one that changes nothing signed
            if option in _IGNORED_VALUES:
                value_of(option, attached)
            elif option in _UNREADABLE_LONG:
                raise ValueError(
                    f"cannot read the curl option {option}: it changes the request in a way not rebuilt here; "
                    "give the URL, --signature and -p NAME=VALUE instead"
                )
            elif option == "--get":
                as_get = True
            elif option == "--head":
                raise ValueError("curl -I sends a HEAD request, which Twilio never sends and the signature omits")
            elif option == "--url":
                urls.append(value_of(option, attached))
            elif option == "--request":
                method = value_of(option, attached).upper()
            elif option == "--header":
                _add_header(headers, value_of(option, attached))
            elif option == "--url-query":
                queries.append(_urlencoded(value_of(option, attached), read, query=True))
            elif option in ("--form", "--form-string"):
                form.append(_form_field(value_of(option, attached), read, literal=option == "--form-string"))
            elif option in _READ_VALUES:
                piece = _data(option, value_of(option, attached), read)
                if option == "--json":
                    json_data = True
                elif has_data:
                    data.append(b"&")
                data.append(piece)
                has_data = has_data or bool(piece)
            elif option.startswith("--no-") and f"--{option[5:]}" in _FLAGS:
                continue
            else:
                raise ValueError(
                    f"cannot read the curl option {option}; remove it, or give the URL, --signature and "
                    "-p NAME=VALUE instead"
                )

    if not urls:
        raise ValueError("the curl command has no URL")
    if len(urls) > 1:
        raise ValueError(f"the curl command has {len(urls)} URLs ({', '.join(map(repr, urls))}); give one")
    url = urls[0]
    if "://" not in url.partition("?")[0]:
        url = f"http://{url}"  # curl's own default for a URL without a scheme
    body = b"".join(data)
    if form and (body or as_get):
        raise ValueError("curl refuses -F together with -d, --json or -G: one body per request")

    query = "&".join(queries)
    if as_get:
        query = "&".join(piece for piece in (query, body.decode("utf-8", "surrogateescape")) if piece)
        body = b""
    if query:
        base, hash_mark, fragment = url.partition("#")
        url = f"{base}{'&' if '?' in base else '?'}{query}{hash_mark}{fragment}"
    fields = None
    default_type = "application/json" if json_data else "application/x-www-form-urlencoded"
    if form:
        body = _multipart(form)
        fields = [(name, content.decode("utf-8", "replace")) for name, filename, content, _ in form if not filename]
        default_type = f"multipart/form-data; boundary={BOUNDARY}"
    if body and "content-type" not in headers:
        headers["content-type"] = default_type
    return CurlRequest(url, headers, body, fields, method or ("POST" if body else "GET"))


def _add_header(headers: dict[str, str], line: str) -> None:
    """``Name: value`` sets a header, ``Name:`` removes curl's own, ``Name;`` sends it empty."""
    if line.startswith("@"):
        raise ValueError("cannot read curl -H @file: give the headers one -H at a time")
    name, colon, value = line.partition(":")
    if not colon:
        name, semicolon, _ = line.partition(";")
        if semicolon:
            headers[name.strip().lower()] = ""
        return
    name = name.strip().lower()
    if value.strip():
        headers[name] = value.strip()
    else:
        headers.pop(name, None)
        if name == "content-type":
            headers["content-type"] = ""  # curl then sends no Content-Type at all


def _data(option: str, value: str, read: Callable[[str], bytes]) -> bytes:
    """One piece of ``-d``-family data, as curl reads it."""
    if option == "--data-urlencode":
        return _urlencoded(value, read, query=False).encode("ascii")
    if option == "--data-raw" or not value.startswith("@"):
        return value.encode("utf-8")
    content = read(value[1:])
    if option in ("--data", "--data-ascii"):
        content = content.replace(b"\r", b"").replace(b"\n", b"")
    return content


def _urlencoded(value: str, read: Callable[[str], bytes], *, query: bool) -> str:
    """``--data-urlencode`` (and ``--url-query``) in curl's forms: content, =content, name=content, @file, name@file."""
    if query and value.startswith("+"):
        return value[1:]  # --url-query +content: used as it is
    cut = min((index for index in (value.find("="), value.find("@")) if index != -1), default=-1)
    if cut == -1:
        return curl_escape(value.encode("utf-8"))
    name, rest = value[:cut], value[cut + 1 :]
    content = read(rest) if value[cut] == "@" else rest.encode("utf-8")
    escaped = curl_escape(content)
    return f"{name}={escaped}" if name else escaped


def _form_field(value: str, read: Callable[[str], bytes], *, literal: bool) -> tuple[str, str, bytes, str | None]:
    """One ``-F name=content`` part: text, ``<file`` (its content as text) or ``@file`` (an upload)."""
    name, equals, content = value.partition("=")
    if not equals:
        raise ValueError(f"curl -F wants NAME=CONTENT, got {value!r}")
    if literal:
        return name, "", content.encode("utf-8"), None
    content, _, options = content.partition(";")
    content_type = None
    filename = ""
    for option in options.split(";") if options else []:
        key, _, setting = option.partition("=")
        if key.strip() == "type":
            content_type = setting.strip()
        elif key.strip() == "filename":
            filename = setting.strip().strip('"')
    if content.startswith("@"):
        return name, filename or os.path.basename(content[1:]) or "-", read(content[1:]), content_type
    if content.startswith("<"):
        return name, filename, read(content[1:]), content_type
    return name, filename, content.encode("utf-8"), content_type


def _multipart(parts: list[tuple[str, str, bytes, str | None]]) -> bytes:
    """A ``multipart/form-data`` body as curl lays it out."""
    chunks = []
    for name, filename, content, declared_type in parts:
        disposition = f'Content-Disposition: form-data; name="{name}"'
        content_type = declared_type
        if filename:
            disposition += f'; filename="{filename}"'
            content_type = declared_type or "application/octet-stream"
        head = f"--{BOUNDARY}\r\n{disposition}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        chunks.append(head.encode("utf-8") + b"\r\n" + content + b"\r\n")
    chunks.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(chunks)
