"""The studio's one look for plotly figures built on the server, and their JSON form.

Figures travel to the browser as plain JSON dicts (``to_json``) and are drawn there by the
plotly.js the studio serves; ``static/studio/charts.js`` styles its own charts with the same
palette, font and grid, so a chart looks the same wherever it was built.
"""

from __future__ import annotations

import json
from typing import Any, Final

import plotly.graph_objects as go

#: The studio's palette, in the order series take their colours.
PALETTE: Final = ["#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#64748b"]
FONT: Final = {"family": "Inter, system-ui, sans-serif", "size": 11, "color": "#4b5160"}
GRID: Final = "#eef0f3"
AXIS_LINE: Final = "#d3d6dd"
#: Diverging red–white–blue for signed scores from -1 to 1 (correlations).
DIVERGING: Final = [
    [0.0, "#b91c1c"],
    [0.25, "#f87171"],
    [0.5, "#ffffff"],
    [0.75, "#60a5fa"],
    [1.0, "#1d4ed8"],
]
#: Sequential white to the first palette colour, for scores from 0 to 1 and counts.
SEQUENTIAL: Final = [[0.0, "#ffffff"], [0.5, "#a5b4fc"], [1.0, "#4f46e5"]]


def style(
    fig: go.Figure, title: str, x_title: str | None = None, y_title: str | None = None
) -> go.Figure:
    """``fig`` with the studio's look: white ground, Inter, light grid, tight margins.

    The figure is changed in place and returned, so calls chain.
    """
    fig.update_layout(
        # No plotly template: the default one adds ~7 kB of JSON to every figure, and the
        # look is set here in full anyway.
        template=None,
        title={"text": title, "font": {"size": 13}, "x": 0.01, "xanchor": "left"},
        font=FONT,
        colorway=PALETTE,
        paper_bgcolor="#ffffff",
        plot_bgcolor="#ffffff",
        margin={"l": 48, "r": 16, "t": 40, "b": 40},
        hoverlabel={"bgcolor": "#16181d", "bordercolor": "#16181d", "font": {"color": "#ffffff"}},
        legend={"bgcolor": "rgba(0,0,0,0)"},
    )
    axis = {"gridcolor": GRID, "zeroline": False, "linecolor": AXIS_LINE, "automargin": True}
    fig.update_xaxes(**axis, title_text=x_title)
    fig.update_yaxes(**axis, title_text=y_title)
    return fig


def to_json(fig: go.Figure) -> dict[str, Any]:
    """``fig`` as JSON-safe data: numpy arrays encoded by plotly, NaN and infinities as null."""
    # plotly's encoder writes non-finite numbers in lists as null (numpy arrays travel as
    # base64 typed arrays, where NaN is just bytes), so the result dumps with allow_nan=False.
    data: dict[str, Any] = json.loads(fig.to_json())
    return data
