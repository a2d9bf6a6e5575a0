"""Pure parts of the dashboard: login limiter, redirect targets, SVG lineage, formatting."""

from __future__ import annotations

from dataclasses import dataclass, field

from charter.web.handler import safe_next
from charter.web.lineage import render
from charter.web.ratelimit import LoginLimiter
from charter.web.rendering import fmt_short, to_json_script


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_counts_per_key_and_slides() -> None:
    clock = Clock()
    limiter = LoginLimiter(2, clock=clock)
    assert limiter.attempt("ip:a", "user:x") == 0
    assert limiter.attempt("ip:a", "user:y") == 0
    wait = limiter.attempt("ip:a", "user:z")  # the address is spent
    assert 59 <= wait <= 60
    assert limiter.attempt("ip:b", "user:x") == 0  # another address, user x has one left
    assert limiter.attempt("ip:c", "user:x") > 0  # user x spent from any address
    clock.now += 61
    assert limiter.attempt("ip:a", "user:x") == 0


def test_refused_attempts_do_not_extend_the_lockout() -> None:
    clock = Clock()
    limiter = LoginLimiter(1, clock=clock)
    assert limiter.attempt("k") == 0
    for _ in range(5):
        clock.now += 10
        assert limiter.attempt("k") > 0
    clock.now += 11
    assert limiter.attempt("k") == 0


def test_safe_next() -> None:
    assert safe_next("/audit?x=1") == "/audit?x=1"
    for bad in (None, "", "//evil", "/\\evil", "https://evil", "evil", "/a\r\nSet-Cookie: x"):
        assert safe_next(bad) == "/"


@dataclass
class Node:
    ref: str
    role: str = "training"
    license: str | None = "MIT"
    personal_data: bool = False
    special_category: bool = False
    upstream: list[Node] = field(default_factory=list)


def test_lineage_svg_columns_edges_and_escaping() -> None:
    raw = Node("raw@1", role="derived", personal_data=True)
    svg = str(
        render(
            "sys@1.0",
            "sha256:" + "a" * 64,
            [Node("clean@1", upstream=[raw]), Node("<b>&evil@1", role="test", special_category=True)],
        )
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('class="node ') == 4 and svg.count('class="edge"') == 3
    assert "<b>" not in svg and "&lt;b&gt;&amp;evil@1" in svg
    assert 'class="node node-special"' in svg and 'class="node node-personal"' in svg
    xs = {ref: float(x) for ref, x in _node_x(svg)}
    assert xs["raw@1"] < xs["clean@1"] < xs["sys@1.0"]


def _node_x(svg: str) -> list[tuple[str, str]]:
    import re

    return re.findall(r'data-ref="([^"]+)"><title>[^<]*</title><rect x="([0-9.]+)"', svg)


def test_lineage_shared_upstream_is_drawn_once() -> None:
    shared = Node("raw@1")
    svg = str(render("m@1", "sha256:" + "b" * 64, [Node("a@1", upstream=[shared]), Node("b@1", upstream=[shared])]))
    assert svg.count('data-ref="raw@1"') == 1 and svg.count('class="edge"') == 4


def test_formatting_helpers() -> None:
    assert fmt_short("sha256:" + "c" * 64, 8) == "sha256:cccccccc…"
    assert str(to_json_script({"x": "</script><b>"})) == '{"x":"\\u003c/script\\u003e\\u003cb\\u003e"}'
