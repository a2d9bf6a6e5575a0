"""The path a `/gw/{deployment}/{path}` call forwards: checked on the raw bytes the client sent, forwarded as-is.

Refused (400 `path_not_allowed`): dot segments in any spelling (`..`, `.`, `...`, `%2e`, `%2E`, `%252e`, `%c0%ae`),
encoded separators (`%2f`, `%5c` in any case, any depth of percent-encoding), backslashes, `;` path parameters,
empty segments, `%` not followed by two hex digits (`%u002e`), percent-escapes of anything but a printable ASCII
character, and raw bytes outside RFC 3986's path characters. What passes is forwarded byte for byte (the upstream
request URL is built with `encoded=True`, so nothing re-decodes or normalises it), so the request line the upstream
reads is `{base path}/{checked path}`: no segment can climb out of the base.
"""

from __future__ import annotations

import re

# RFC 3986 pchar minus ";" (path parameters, which some servers strip before routing: `/..;/`), plus "/" and "%".
_RAW_OK = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@/%")
# What a percent-escape may stand for: printable ASCII minus separators, dots, "%" (double encoding), ";", "?", "#"
# (and no space: some servers trim it, turning `..%20` into `..`).
_DECODED_OK = frozenset(range(0x21, 0x7F)) - frozenset(b"/\\.%;?#")
_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})|%([0-9A-Fa-f]{2})")
_NAME = re.compile(rb"[a-z0-9][a-z0-9._-]{0,62}")
_QUERY_OK = frozenset(range(0x21, 0x7F)) - frozenset(b"#")


class PathNotAllowed(ValueError):
    """The forwarded path could leave the deployment's base, or is not a plain path; the message says which part."""


def split(raw_path: bytes) -> tuple[str, bytes]:
    """`/gw/NAME/REST` (raw, as received) → (NAME, REST). A NAME that is not a plain deployment name is refused."""
    if not raw_path.startswith(b"/gw/"):
        raise PathNotAllowed("the path must start with /gw/ followed by a deployment name, not an encoded form")
    name, _, rest = raw_path[4:].partition(b"/")
    if _NAME.fullmatch(name) is None:
        raise PathNotAllowed("the deployment name in /gw/NAME/ must be a plain name (a-z, 0-9, '.', '_', '-')")
    return name.decode("ascii"), rest


def check(rest: bytes) -> None:
    """Raise `PathNotAllowed` unless `rest` (the raw path after /gw/NAME/) provably stays under the base."""
    if not rest:
        return
    if not _RAW_OK.issuperset(rest):
        bad = next(b for b in rest if b not in _RAW_OK)
        raise PathNotAllowed(f"byte {bytes([bad])!r} is not allowed in a forwarded path (';', '\\' and controls)")
    if b"%" in rest:
        for m in _ESCAPE.finditer(rest):
            if m.group(1) is None:
                raise PathNotAllowed("'%' must start a two-digit percent-escape")
            value = int(m.group(1), 16)
            if value not in _DECODED_OK:
                raise PathNotAllowed(
                    f"percent-escape %{m.group(1).decode()} is not allowed: encoded separators, dots, '%' (double "
                    "encoding), ';' and non-ASCII or control bytes are refused"
                )
    segments = rest.split(b"/")
    for i, segment in enumerate(segments):
        if not segment:
            if i == len(segments) - 1:
                continue  # a trailing slash
            raise PathNotAllowed("empty path segments ('//') are not allowed")
        if not segment.strip(b"."):
            raise PathNotAllowed("dot segments ('.', '..') are not allowed in a forwarded path")


def check_query(query: bytes) -> None:
    """The query string is forwarded as-is too: printable ASCII only."""
    if query and not _QUERY_OK.issuperset(query):
        raise PathNotAllowed("the query string must be printable ASCII without '#'")


def openai_url(base: str, path: str) -> str:
    """An OpenAI route on the upstream: `/v1/...` appended to the base, whose own trailing `/v1` is not doubled."""
    return base + (path[3:] if base.endswith("/v1") else path)


def plain_url(base: str, rest: bytes) -> str:
    """`{base}/{rest}` for a `/gw` call whose `rest` passed `check`."""
    return f"{base}/{rest.decode('ascii')}"
