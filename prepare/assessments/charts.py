"""Line charts drawn on the server as SVG: no script, no library, nothing
fetched (decision 0028; DESIGN.md, "charts as server-rendered SVG with a data
table beside them").

A chart places ordinal levels, never numbers: each line is one item, each
point the level an assessor chose, on that item's own scale (the first level
at the top, in the order the instrument lists them). Lines are told apart
without colour: each has its own marker shape and dash pattern and is named
at its end; colour only repeats that. A point that is missing leaves a gap
in its line; the page says why beside the chart.

The geometry is computed here; ``assessments/trajectory_chart.html`` writes it out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

# Told apart by shape first; the colours (Okabe and Ito's palette, safe for
# the common colour-vision deficiencies) only repeat it.
SHAPES = ("circle", "square", "triangle", "diamond", "triangle-down", "cross", "plus", "star")
SHAPE_NAMES = {
    "circle": "●",
    "square": "■",
    "triangle": "▲",
    "diamond": "◆",
    "triangle-down": "▼",
    "cross": "✕",
    "plus": "✚",
    "star": "★",
}
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#7a5c00", "#56b4e9", "#000000")
DASHES = ("", "7 4", "2 3", "9 3 2 3", "4 2", "1 4", "12 4")

FONT = 12
CHAR = 7.2  # the average advance of a character at FONT, to size the margins
ROW = 34  # between two levels
STEP = 72  # between two assessments
LABEL_GAP = 15  # between two end labels
NUDGE = 7  # between two points at one place
MAX_LABEL = 40  # characters of an item's name written at the end of its line


def _short(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def marker_path(shape: str, x: float, y: float, r: float = 5.5) -> str:
    """An SVG path for a marker of ``shape`` centred on (x, y)."""
    f = lambda v: f"{v:.1f}"  # noqa: E731
    if shape == "circle":
        return (
            f"M{f(x - r)} {f(y)}a{f(r)} {f(r)} 0 1 0 {f(2 * r)} 0"
            f"a{f(r)} {f(r)} 0 1 0 {f(-2 * r)} 0Z"
        )
    if shape == "square":
        s = r * 0.9
        return f"M{f(x - s)} {f(y - s)}h{f(2 * s)}v{f(2 * s)}h{f(-2 * s)}Z"
    if shape == "triangle":
        return f"M{f(x)} {f(y - r * 1.2)}L{f(x + r * 1.1)} {f(y + r * 0.8)}H{f(x - r * 1.1)}Z"
    if shape == "triangle-down":
        return f"M{f(x)} {f(y + r * 1.2)}L{f(x + r * 1.1)} {f(y - r * 0.8)}H{f(x - r * 1.1)}Z"
    if shape == "diamond":
        d = r * 1.25
        return f"M{f(x)} {f(y - d)}L{f(x + d)} {f(y)}L{f(x)} {f(y + d)}L{f(x - d)} {f(y)}Z"
    if shape == "cross":
        a, w = r, r * 0.35
        return (
            f"M{f(x - a)} {f(y - a + w)}L{f(x - w)} {f(y)}L{f(x - a)} {f(y + a - w)}"
            f"L{f(x - a + w)} {f(y + a)}L{f(x)} {f(y + w)}L{f(x + a - w)} {f(y + a)}"
            f"L{f(x + a)} {f(y + a - w)}L{f(x + w)} {f(y)}L{f(x + a)} {f(y - a + w)}"
            f"L{f(x + a - w)} {f(y - a)}L{f(x)} {f(y - w)}L{f(x - a + w)} {f(y - a)}Z"
        )
    if shape == "plus":
        a, w = r * 1.1, r * 0.4
        return (
            f"M{f(x - w)} {f(y - a)}h{f(2 * w)}v{f(a - w)}h{f(a - w)}v{f(2 * w)}"
            f"h{f(w - a)}v{f(a - w)}h{f(-2 * w)}v{f(w - a)}h{f(w - a)}v{f(-2 * w)}"
            f"h{f(a - w)}Z"
        )
    # A five-pointed star.
    points = []
    for k in range(10):
        radius = r * 1.3 if k % 2 == 0 else r * 0.55
        angle = -math.pi / 2 + k * math.pi / 5
        points.append(f"{f(x + radius * math.cos(angle))} {f(y + radius * math.sin(angle))}")
    return "M" + "L".join(points) + "Z"


@dataclass(frozen=True)
class Tick:
    at: float  # where the tick's grid line runs
    label: str
    text_at: float  # the label's baseline (y ticks) or its anchor (x ticks)


@dataclass(frozen=True)
class Mark:
    path: str
    title: str  # "item: level, date", for a pointer's tooltip


@dataclass
class Line:
    label: str  # the whole name (the table has it too)
    short: str  # what is written at the line's end
    shape: str
    colour: str
    dash: str
    segments: list[str]  # "x,y x,y ...": one polyline per run without a gap
    marks: list[Mark]
    label_y: float = 0.0
    key: str = ""  # the marker drawn before the end label

    @property
    def label_text_y(self) -> float:
        return round(self.label_y + 4, 1)


@dataclass
class Chart:
    id: str
    title: str
    desc: str
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float  # the last level's line
    axis: float  # where the dates are written
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    lines: list[Line]
    label_x: float
    rotate: bool  # the dates are written slanted (many assessments)
    single: bool = False  # one point per line: no line to draw
    legend: list[tuple[str, str]] = field(default_factory=list)

    @property
    def grid_right(self) -> float:
        return round(self.right + 16, 1)

    @property
    def grid_left(self) -> float:
        return round(self.left, 1)

    @property
    def y_label_x(self) -> float:
        return round(self.left - 8, 1)

    @property
    def grid_top(self) -> float:
        return round(self.top - 8, 1)

    @property
    def grid_bottom(self) -> float:
        return round(self.bottom + 8, 1)

    @property
    def title_id(self) -> str:
        return f"{self.id}-title"

    @property
    def desc_id(self) -> str:
        return f"{self.id}-desc"


@dataclass(frozen=True)
class Series:
    label: str
    positions: Sequence[int | None]  # per date: the level's index, or None (a gap)
    titles: Sequence[str]  # per date: the point's tooltip


def line_chart(
    *,
    id: str,
    title: str,
    desc: str,
    dates: Sequence[str],
    levels: Sequence[str],
    series: Sequence[Series],
) -> Chart:
    """The geometry of one chart: ``dates`` along x, ``levels`` down y (the
    first at the top), one line per series."""
    n = max(len(dates), 1)
    steps = max(len(levels), 1)
    left = 14 + min(max((len(lv) for lv in levels), default=4), 28) * CHAR
    rotate = n > 4 or max((len(d) for d in dates), default=0) * CHAR > STEP - 8
    top = 14.0
    bottom = top + (steps - 1) * ROW
    first_x = left + 28
    right = first_x + (n - 1) * STEP
    label_x = right + 34
    xs = [first_x + i * STEP for i in range(n)]
    ys = [top + j * ROW for j in range(steps)]

    # Points of several lines at one place are set side by side, not on top of each other.
    sharing: dict[tuple[int, int], list[int]] = {}
    for index, s in enumerate(series):
        for i, position in enumerate(s.positions):
            if position is not None:
                sharing.setdefault((i, position), []).append(index)

    def x_of(index: int, i: int, position: int) -> float:
        together = sharing[(i, position)]
        nudge = min(NUDGE, (STEP - 16) / len(together))
        return xs[i] + (together.index(index) - (len(together) - 1) / 2) * nudge

    lines: list[Line] = []
    for index, s in enumerate(series):
        shape = SHAPES[index % len(SHAPES)]
        colour = COLOURS[index % len(COLOURS)]
        dash = DASHES[index % len(DASHES)]
        segments: list[str] = []
        run: list[str] = []
        marks: list[Mark] = []
        last_y: float | None = None
        for i, position in enumerate(s.positions):
            if position is None or not 0 <= position < steps:
                if len(run) > 1:
                    segments.append(" ".join(run))
                run = []
                continue
            x, y = x_of(index, i, position), ys[position]
            run.append(f"{x:.1f},{y:.1f}")
            marks.append(Mark(marker_path(shape, x, y), s.titles[i] if i < len(s.titles) else ""))
            last_y = y
        if len(run) > 1:
            segments.append(" ".join(run))
        lines.append(
            Line(
                label=s.label,
                short=_short(s.label),
                shape=shape,
                colour=colour,
                dash=dash,
                segments=segments,
                marks=marks,
                label_y=last_y if last_y is not None else top,
            )
        )
    # End labels: in the order of their lines' ends, pushed apart so that none overlaps.
    placed = sorted(lines, key=lambda ln: ln.label_y)
    floor = top - LABEL_GAP
    for ln in placed:
        ln.label_y = max(ln.label_y, floor + LABEL_GAP)
        floor = ln.label_y
    for ln in lines:
        ln.key = marker_path(ln.shape, label_x, ln.label_y, 4.5)
    longest = max((len(ln.short) for ln in lines), default=0)
    width = int(label_x + 12 + longest * CHAR + 8)
    lowest = max([bottom, *(ln.label_y for ln in lines)])
    height = int(lowest + (84 if rotate else 34))
    return Chart(
        id=id,
        title=title,
        desc=desc,
        width=width,
        height=height,
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        axis=lowest + 22,
        x_ticks=[
            Tick(round(x, 1), d, round(lowest + 22, 1)) for x, d in zip(xs, dates, strict=False)
        ],
        y_ticks=[Tick(round(y, 1), lv, round(y + 4, 1)) for y, lv in zip(ys, levels, strict=False)],
        lines=lines,
        label_x=round(label_x + 10, 1),
        rotate=rotate,
        single=len(dates) == 1,
    )
