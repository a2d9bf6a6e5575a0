"""Server-side SVG of a lineage graph: datasets (and the datasets they derive from) flowing into a model version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from markupsafe import Markup, escape

NODE_W, NODE_H = 210, 50
COL_GAP, ROW_GAP = 90, 18
PAD = 16
MAX_LABEL = 27


class NodeLike(Protocol):
    """What the catalog's lineage nodes provide (`charter.catalog.schemas.LineageNode`)."""

    @property
    def ref(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def license(self) -> str | None: ...
    @property
    def personal_data(self) -> bool: ...
    @property
    def special_category(self) -> bool: ...
    @property
    def upstream(self) -> Sequence[NodeLike]: ...


@dataclass
class _Box:
    ref: str
    depth: int
    sub: str
    kind: str  # model | dataset | personal | special
    row: int = 0
    x: float = 0
    y: float = 0
    roles: list[str] = field(default_factory=list)


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _collect(
    nodes: Sequence[NodeLike], depth: int, child: str, boxes: dict[str, _Box], edges: set[tuple[str, str, str]]
) -> None:
    for node in nodes:
        kind = "special" if node.special_category else "personal" if node.personal_data else "dataset"
        sub = " · ".join(p for p in (node.license or "no license", "personal data" if node.personal_data else "") if p)
        box = boxes.get(node.ref)
        if box is None:
            boxes[node.ref] = box = _Box(node.ref, depth, sub, kind)
        box.depth = max(box.depth, depth)
        edges.add((node.ref, child, node.role if depth == 1 else "derived"))
        _collect(node.upstream, depth + 1, node.ref, boxes, edges)


def render(model: str, digest: str, datasets: Sequence[NodeLike]) -> Markup:
    """An SVG (safe markup) with the model on the right and its inputs in columns by distance to it."""
    boxes: dict[str, _Box] = {model: _Box(model, 0, digest[:19] + "…" if len(digest) > 20 else digest, "model")}
    edges: set[tuple[str, str, str]] = set()
    _collect(datasets, 1, model, boxes, edges)
    depth = max(b.depth for b in boxes.values())
    columns: dict[int, list[_Box]] = {}
    for box in sorted(boxes.values(), key=lambda b: b.ref):
        columns.setdefault(box.depth, []).append(box)
    rows = max(len(c) for c in columns.values())
    height = PAD * 2 + rows * NODE_H + (rows - 1) * ROW_GAP
    width = PAD * 2 + (depth + 1) * NODE_W + depth * COL_GAP
    for d, col in columns.items():
        col_h = len(col) * NODE_H + (len(col) - 1) * ROW_GAP
        top = (height - col_h) / 2
        for i, box in enumerate(col):
            box.x = PAD + (depth - d) * (NODE_W + COL_GAP)
            box.y = top + i * (NODE_H + ROW_GAP)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage-graph" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Lineage of {escape(model)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8a97a6"/></marker></defs>',
    ]
    for src, dst, role in sorted(edges):
        a, b = boxes[src], boxes[dst]
        x1, y1 = a.x + NODE_W, a.y + NODE_H / 2
        x2, y2 = b.x - 2, b.y + NODE_H / 2
        mid = (x1 + x2) / 2
        parts.append(
            f'<path class="edge" d="M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" '
            'fill="none" stroke="#8a97a6" stroke-width="1.5" marker-end="url(#arrow)"/>'
        )
        lx, ly = mid, (y1 + y2) / 2 - 5
        parts.append(
            f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="middle" font-size="11" fill="#5d6b7a">{escape(role)}</text>'
        )
    style = {
        "model": ("#1f4e79", "#1f4e79", "#ffffff", "#cfe0f1"),
        "dataset": ("#ffffff", "#9fb0c2", "#1b2430", "#5d6b7a"),
        "personal": ("#fffaf0", "#c98a1a", "#1b2430", "#9a5b00"),
        "special": ("#fff5f4", "#b42318", "#1b2430", "#b42318"),
    }
    for box in boxes.values():
        fill, stroke, ink, sub_ink = style[box.kind]
        parts.append(
            f'<g class="node node-{box.kind}" data-ref="{escape(box.ref)}"><title>{escape(box.ref)}</title>'
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="8" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="1.5"/>'
            f'<text x="{box.x + 12:.1f}" y="{box.y + 21:.1f}" font-size="13" font-weight="600" '
            f'fill="{ink}">{escape(_label(box.ref))}</text>'
            f'<text x="{box.x + 12:.1f}" y="{box.y + 38:.1f}" font-size="11" fill="{sub_ink}">'
            f"{escape(_label(box.sub))}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
