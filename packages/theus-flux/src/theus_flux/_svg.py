"""Render a workflow as a standalone SVG flowchart (no external tools).

Layout rules (a structured flowchart, top to bottom): every block has one entry at the
middle of its top edge and one exit at the middle of its bottom edge, so sequences are
stacked and joined by straight arrows. An ``if`` puts its decision on top, the ``then``
branch on the left (edge ``true``) and the ``else`` branch on the right (``false``), and
merges them below. A ``while`` puts its decision on top and its body below (``true``);
the body's exit loops back up the left lane into the decision, and the ``false`` edge
leaves by the right lane. ``wait`` is a hexagon, custom kinds a parallelogram, ``run`` a
dashed frame around its steps. Labels longer than 48 characters are shortened; the full
text is kept in a ``<title>`` tooltip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from ._ir import CustomStep, IfStep, ProcessStep, RunStep, Step, WaitStep, WhileStep, Workflow

__all__ = ["to_svg"]

GAP = 26  # vertical gap between blocks
LANE = 22  # side lanes of a while loop
CHAR = 7.2  # average glyph width at 12px
PAD = 12
_MAX_LABEL = 48


@dataclass
class _Block:
    w: float
    h: float
    items: list[str] = field(default_factory=list)  # SVG elements, relative to (0, 0)

    def placed(self, dx: float, dy: float) -> str:
        return f'<g transform="translate({dx:.1f},{dy:.1f})">{"".join(self.items)}</g>'


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_LABEL else flat[: _MAX_LABEL - 1] + "…"


def _text(x: float, y: float, text: str, cls: str = "label") -> str:
    return f'<text class="{cls}" x="{x:.1f}" y="{y:.1f}">{escape(_short(text))}</text>'


def _title(text: str) -> str:
    return f"<title>{escape(' '.join(text.split()))}</title>"


def _arrow(points: list[tuple[float, float]], label: str | None = None) -> str:
    d = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(points))
    out = f'<path class="edge" d="{d}" marker-end="url(#arrow)"/>'
    if label:
        (x0, y0), (x1, y1) = points[0], points[1]
        out += _text((x0 + x1) / 2 + 4, (y0 + y1) / 2 - 4, label, "edge-label")
    return out


def _width(text: str, extra: float) -> float:
    return max(90.0, len(_short(text)) * CHAR + extra)


def _node(shape: str, label: str, full: str) -> _Block:
    w, h = _width(label, 2 * PAD), 34.0
    if shape == "process":
        body = f'<rect class="process" x="0" y="0" width="{w:.1f}" height="{h}" rx="4"/>'
    elif shape == "terminal":
        body = f'<rect class="terminal" x="0" y="0" width="{w:.1f}" height="{h}" rx="17"/>'
    elif shape == "wait":
        pts = f"12,0 {w - 12:.1f},0 {w:.1f},17 {w - 12:.1f},34 12,34 0,17"
        body = f'<polygon class="wait" points="{pts}"/>'
    else:  # custom kind
        pts = f"10,0 {w:.1f},0 {w - 10:.1f},34 0,34"
        body = f'<polygon class="custom" points="{pts}"/>'
    return _Block(w, h, [f"<g>{_title(full)}{body}", _text(w / 2, 21, label), "</g>"])


def _diamond(label: str, full: str) -> _Block:
    w, h = _width(label, 56), 52.0
    pts = f"{w / 2:.1f},0 {w:.1f},{h / 2:.1f} {w / 2:.1f},{h:.1f} 0,{h / 2:.1f}"
    return _Block(
        w,
        h,
        [
            f'<g>{_title(full)}<polygon class="decision" points="{pts}"/>',
            _text(w / 2, 30, label),
            "</g>",
        ],
    )


def _sequence(blocks: list[_Block]) -> _Block:
    if not blocks:
        return _Block(10, GAP, [f'<path class="edge" d="M5,0 L5,{GAP}"/>'])
    w = max(b.w for b in blocks)  # every block is centred: entries and exits line up
    out = _Block(w, 0)
    y = 0.0
    for i, b in enumerate(blocks):
        if i:
            out.items.append(_arrow([(w / 2, y), (w / 2, y + GAP)]))
            y += GAP
        out.items.append(b.placed((w - b.w) / 2, y))
        y += b.h
    out.h = y
    return out


def _if(step: IfStep) -> _Block:
    d = _diamond("if " + step.condition.text, step.condition.text)
    then, other = _steps(step.then), _steps(step.else_)
    # branch centres start under the diamond's side vertices and move apart until the
    # branches no longer overlap: edges then leave the diamond outwards, never across it
    half = d.w / 2
    ct, ce = -half, half
    needed = then.w / 2 + 2 * GAP + other.w / 2
    if ce - ct < needed:
        extra = (needed - (ce - ct)) / 2
        ct, ce = ct - extra, ce + extra
    # symmetric around the decision, so the block's entry and exit stay at its centre
    reach = max(half, then.w / 2 - ct, ce + other.w / 2)
    cx, ct, ce = reach, ct + reach, ce + reach
    w = 2 * reach
    top = d.h + GAP
    merge = top + max(then.h, other.h) + GAP / 2
    out = _Block(w, merge + GAP / 2, [d.placed(cx - half, 0)])
    mid = d.h / 2
    out.items.append(_arrow([(cx - half, mid), (ct, mid), (ct, top)], "true"))
    out.items.append(_arrow([(cx + half, mid), (ce, mid), (ce, top)], "false"))
    out.items.append(then.placed(ct - then.w / 2, top))
    out.items.append(other.placed(ce - other.w / 2, top))
    join = f"M{ct:.1f},{top + then.h:.1f} L{ct:.1f},{merge:.1f} L{ce:.1f},{merge:.1f}"
    join += f" L{ce:.1f},{top + other.h:.1f}"
    out.items.append(f'<path class="edge" d="{join}"/>')
    out.items.append(_arrow([(cx, merge), (cx, out.h)]))
    return out


def _while(step: WhileStep) -> _Block:
    d = _diamond("while " + step.condition.text, step.condition.text)
    body = _steps(step.do)
    inner = max(d.w, body.w)
    w = inner + 2 * LANE
    cx = w / 2
    top = d.h + GAP
    bottom = top + body.h + GAP
    out = _Block(w, bottom + GAP / 2, [d.placed(cx - d.w / 2, 0)])
    out.items.append(_arrow([(cx, d.h), (cx, top)], "true"))
    out.items.append(body.placed(cx - body.w / 2, top))
    back = [(cx, top + body.h), (cx, top + body.h + GAP / 2), (LANE / 2, top + body.h + GAP / 2)]
    back += [(LANE / 2, d.h / 2), (cx - d.w / 2, d.h / 2)]
    out.items.append(_arrow(back))
    exit_path = [(cx + d.w / 2, d.h / 2), (w - LANE / 2, d.h / 2), (w - LANE / 2, bottom)]
    exit_path += [(cx, bottom), (cx, out.h)]
    out.items.append(_arrow(exit_path, "false"))
    return out


def _run(step: RunStep) -> _Block:
    inner = _steps(step.steps)
    w, h = inner.w + 2 * PAD, inner.h + 2 * PAD + 14
    frame = f'<rect class="run" x="0" y="0" width="{w:.1f}" height="{h:.1f}" rx="6"/>'
    return _Block(w, h, [frame, _text(PAD, 13, "run", "frame-label"), inner.placed(PAD, PAD + 14)])


def _step(step: Step) -> _Block:
    if isinstance(step, ProcessStep):
        return _node("process", step.name, step.name)
    if isinstance(step, IfStep):
        return _if(step)
    if isinstance(step, WhileStep):
        return _while(step)
    if isinstance(step, RunStep):
        return _run(step)
    if isinstance(step, WaitStep):
        return _node("wait", "wait until " + step.until.text, step.until.text)
    assert isinstance(step, CustomStep)
    return _node("custom", step.kind, step.kind)


def _steps(steps: tuple[Step, ...]) -> _Block:
    return _sequence([_step(s) for s in steps])


_STYLE = (
    "text{font:12px sans-serif;text-anchor:middle;fill:#1f2933}"
    ".edge-label,.frame-label{text-anchor:start;font-size:11px;fill:#52606d}"
    ".process{fill:#e6f0ff;stroke:#3e6fb0}.terminal{fill:#eef2f5;stroke:#52606d}"
    ".decision{fill:#fff6e0;stroke:#c98a00}.wait{fill:#f3e8ff;stroke:#7b4bb7}"
    ".custom{fill:#e8f8ef;stroke:#2f8f5b}.run{fill:none;stroke:#9aa5b1;stroke-dasharray:5 4}"
    ".edge{fill:none;stroke:#52606d;stroke-width:1.2}"
)


def to_svg(workflow: Workflow) -> str:
    """The workflow as a standalone SVG document (UTF-8 text)."""
    flow = _sequence(
        [
            _node("terminal", "start", "start"),
            _steps(workflow.steps),
            _node("terminal", "end", "end"),
        ]
    )
    margin = 16
    w, h = flow.w + 2 * margin, flow.h + 2 * margin
    title = escape(" ".join((workflow.name or workflow.source).split()))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" '
        f'viewBox="0 0 {w:.1f} {h:.1f}" role="img"><title>{title}</title>'
        f"<style>{_STYLE}</style>"
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#52606d"/></marker></defs>'
        f"{flow.placed(margin, margin)}</svg>\n"
    )
