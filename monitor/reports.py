"""Reports as files: a Clarify report as one self-contained HTML page, and the number
formatting the monitor's pages share with it.

Invariants:

- :func:`clarify_report_html` needs nothing but the file: the CSS is inline and plotly.js is
  inlined once, at the top (``plotly.offline.get_plotlyjs()``); no script or stylesheet is
  loaded from anywhere, so the page opens offline and leaks nothing when shared.
- Every text that comes from the report or the job (names, facet values, descriptions,
  errors) is HTML-escaped; figures carry their data as JSON inside ``Plotly.newPlot`` calls
  that plotly itself writes.
- It shows what the Clarify page shows: per bias stage one table per facet group (metric,
  description, value or the reason it has none) and a bar chart of one metric across the
  groups (a menu picks the metric); SHAP global importance, a dependence plot (a menu picks
  the feature) and the attributions of the first explained rows.
"""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING, Any, Final

from monitor.models import ClarifyJob

if TYPE_CHECKING:
    import plotly.graph_objects as go

PALETTE: Final = ("#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#64748b")
#: Rows of the explanations whose attributions the report draws (a menu picks one).
REPORT_ROWS: Final = 20
STAGE_TITLES: Final = {
    "pre_training_bias": ("Pre-training bias", "Bias of the data: does the label favour a group?"),
    "post_training_bias": ("Post-training bias", "Bias of the model's predictions on the data."),
}
CSS: Final = """
body { margin: 0; font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto,
  "Helvetica Neue", Arial, sans-serif; color: #16181d; background: #f6f7f9; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 28px 56px; }
h1 { font-size: 22px; margin: 0 0 6px; } h2 { font-size: 17px; margin: 28px 0 4px; }
h3 { font-size: 14px; margin: 0; }
.sub, .hint { color: #7b8191; } .hint { font-size: 13px; margin: 0 0 12px; }
.meta { display: flex; flex-wrap: wrap; gap: 4px 18px; color: #4b5160; font-size: 13px; }
.card { background: #fff; border: 1px solid #e4e6eb; border-radius: 10px; margin-top: 14px;
  overflow: hidden; }
.card-head { display: flex; gap: 10px; align-items: baseline; padding: 12px 16px;
  border-bottom: 1px solid #e4e6eb; }
.groups { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 14px; }
.groups .card { margin-top: 0; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 7px 16px; border-bottom: 1px solid #eef0f3; font-size: 13px; }
th { color: #7b8191; font-weight: 600; font-size: 12px; background: #fafafb; }
td.num, th.num { text-align: right; } tr:last-child td { border-bottom: 0; }
.tag { display: inline-block; padding: 0 7px; border-radius: 5px; background: #f3ecff;
  color: #6c35c9; font-size: 12px; font-weight: 600; }
.muted { color: #7b8191; } .err { color: #a45a06; font-size: 12px; }
.chart { padding: 4px 8px; }
footer { margin-top: 32px; color: #a8adb9; font-size: 12px; }
"""


def fmt(value: Any) -> str:
    """A number as a table shows it: four significant digits, thousands separated, tiny and
    huge ones in scientific notation; ``None`` as a dash; the report's infinities as ∞."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return {"inf": "∞", "-inf": "−∞"}.get(value, value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "∞" if value > 0 else ("−∞" if value < 0 else "—")
        size = abs(value)
        if size == 0:
            return "0"
        if size < 1e-3 or size >= 1e7:
            return f"{value:.2e}"
        if size >= 1e4:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    return str(value)


def positive_text(value: Any) -> str:
    """The favourable outcome in words: the label values, or above a regression threshold."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return f"above {fmt(value)}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _layout(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "font": {"size": 11, "color": "#4b5160"},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "margin": {"l": 60, "r": 20, "t": 40, "b": 44},
        "template": "none",
    }
    base.update(extra)
    return base


def _html(fig: go.Figure, name: str) -> str:
    import plotly.io as pio

    config = {
        "displaylogo": False,
        "responsive": True,
        "toImageButtonOptions": {"format": "png", "filename": name, "scale": 2},
    }
    return str(pio.to_html(fig, include_plotlyjs=False, full_html=False, config=config))


def _group_label(entry: dict[str, Any]) -> str:
    return f"{entry.get('facet')} = {entry.get('value_or_threshold')}"


def bias_figure(entries: list[dict[str, Any]], title: str) -> go.Figure | None:
    """Horizontal bars of one metric across the facet groups; a menu picks the metric."""
    import plotly.graph_objects as go

    names: list[str] = []
    for entry in entries:
        for metric in entry.get("metrics") or []:
            if metric.get("name") not in names:
                names.append(str(metric.get("name")))
    if not entries or not names:
        return None
    labels = [_group_label(e) for e in entries]
    fig = go.Figure()
    for i, name in enumerate(names):
        values: list[float | None] = []
        for entry in entries:
            found: dict[str, Any] = next(
                (m for m in entry.get("metrics") or [] if m.get("name") == name), {}
            )
            values.append(_number(found.get("value")))
        fig.add_trace(
            go.Bar(
                x=values,
                y=labels,
                orientation="h",
                name=name,
                visible=i == 0,
                marker_color=PALETTE[0],
                hovertemplate="%{y}<br><b>%{x:.4g}</b><extra>" + escape(name) + "</extra>",
            )
        )
    buttons = [
        {
            "label": name,
            "method": "update",
            "args": [{"visible": [j == i for j in range(len(names))]}, {"xaxis.title.text": name}],
        }
        for i, name in enumerate(names)
    ]
    fig.update_layout(
        **_layout(
            title={"text": title, "x": 0, "font": {"size": 13}},
            height=max(220, 34 * len(labels) + 110),
            margin={"l": 20, "r": 20, "t": 70, "b": 44},
            updatemenus=[{"buttons": buttons, "x": 1, "xanchor": "right", "y": 1.18}],
            xaxis={"title": {"text": names[0]}, "zeroline": True, "gridcolor": "#eef0f3"},
            yaxis={"automargin": True, "autorange": "reversed"},
            showlegend=False,
        )
    )
    return fig


def importance_figure(importance: list[dict[str, Any]], title: str) -> go.Figure | None:
    """Mean |SHAP| per feature, the most important on top."""
    import plotly.graph_objects as go

    if not importance:
        return None
    rows = sorted(importance, key=lambda r: -(_number(r.get("mean_abs_shap")) or 0.0))[:30]
    fig = go.Figure(
        go.Bar(
            x=[_number(r.get("mean_abs_shap")) for r in rows],
            y=[str(r.get("feature")) for r in rows],
            orientation="h",
            marker_color=PALETTE[0],
            hovertemplate="%{y}<br><b>%{x:.4g}</b><extra></extra>",
        )
    )
    fig.update_layout(
        **_layout(
            title={"text": title, "x": 0, "font": {"size": 13}},
            height=max(220, 24 * len(rows) + 100),
            xaxis={"title": {"text": "mean |SHAP value|"}, "gridcolor": "#eef0f3"},
            yaxis={"automargin": True, "autorange": "reversed"},
        )
    )
    return fig


def dependence_figure(dependence: dict[str, Any]) -> go.Figure | None:
    """SHAP value against the feature's value; a menu picks the feature."""
    import plotly.graph_objects as go

    names = [n for n, d in dependence.items() if (d or {}).get("x")]
    if not names:
        return None
    fig = go.Figure()
    for i, name in enumerate(names):
        fig.add_trace(
            go.Scatter(
                x=dependence[name]["x"],
                y=dependence[name]["shap"],
                mode="markers",
                name=name,
                visible=i == 0,
                marker={"size": 5, "color": PALETTE[1], "opacity": 0.6},
                hovertemplate=escape(name) + " %{x}<br>SHAP <b>%{y:.4g}</b><extra></extra>",
            )
        )
    buttons = [
        {
            "label": name,
            "method": "update",
            "args": [{"visible": [j == i for j in range(len(names))]}, {"xaxis.title.text": name}],
        }
        for i, name in enumerate(names)
    ]
    fig.update_layout(
        **_layout(
            title={"text": "Dependence", "x": 0, "font": {"size": 13}},
            height=360,
            margin={"l": 60, "r": 20, "t": 70, "b": 50},
            updatemenus=[{"buttons": buttons, "x": 1, "xanchor": "right", "y": 1.2}],
            xaxis={"title": {"text": names[0]}, "gridcolor": "#eef0f3"},
            yaxis={"title": {"text": "SHAP value"}, "gridcolor": "#eef0f3", "zeroline": True},
            showlegend=False,
        )
    )
    return fig


def waterfall_figure(explanations: dict[str, Any]) -> go.Figure | None:
    """From the expected value to each row's prediction, feature by feature (the largest
    contributions first); a menu picks the row among the first ``REPORT_ROWS``."""
    import plotly.graph_objects as go

    rows = (explanations.get("rows") or [])[:REPORT_ROWS]
    base = _number(explanations.get("expected_value"))
    if not rows or base is None:
        return None
    fig = go.Figure()
    for i, row in enumerate(rows):
        parts = sorted(
            ((str(f), _number(v) or 0.0) for f, v in (row.get("attributions") or {}).items()),
            key=lambda kv: -abs(kv[1]),
        )[:15]
        fig.add_trace(
            go.Waterfall(
                orientation="h",
                measure=["absolute", *["relative"] * len(parts), "total"],
                y=["expected value", *[p[0] for p in parts], "prediction"],
                x=[base, *[p[1] for p in parts], 0],
                base=0,
                visible=i == 0,
                name=f"row {row.get('index')}",
                increasing={"marker": {"color": PALETTE[4]}},
                decreasing={"marker": {"color": PALETTE[1]}},
                totals={"marker": {"color": PALETTE[6]}},
                hovertemplate="%{y}<br><b>%{x:.4g}</b><extra></extra>",
            )
        )
    buttons = [
        {
            "label": f"row {row.get('index')}",
            "method": "update",
            "args": [{"visible": [j == i for j in range(len(rows))]}],
        }
        for i, row in enumerate(rows)
    ]
    fig.update_layout(
        **_layout(
            title={
                "text": "One row: from the expected value to its prediction",
                "x": 0,
                "font": {"size": 13},
            },
            height=460,
            margin={"l": 20, "r": 20, "t": 70, "b": 44},
            updatemenus=[{"buttons": buttons, "x": 1, "xanchor": "right", "y": 1.16}],
            xaxis={
                "title": {"text": str(explanations.get("output") or "model output")},
                "gridcolor": "#eef0f3",
            },
            yaxis={"automargin": True, "autorange": "reversed"},
            showlegend=False,
        )
    )
    return fig


def _group_table(entry: dict[str, Any]) -> str:
    facet = str(entry.get("facet", ""))
    rows = []
    for metric in entry.get("metrics") or []:
        value = metric.get("value")
        shown = escape(fmt(value))
        why = (
            f'<div class="err">{escape(str(metric["error"]))}</div>' if metric.get("error") else ""
        )
        rows.append(
            f'<tr><td title="{escape(str(metric.get("description", "")))}"><strong>'
            f"{escape(str(metric.get('name')))}</strong>"
            f'<div class="muted">{escape(str(metric.get("description", "")))}</div></td>'
            f'<td class="num">{shown}{why}</td></tr>'
        )
    badge = ' <span class="tag">intersection</span>' if " & " in facet else ""
    return (
        '<div class="card"><div class="card-head"><h3>'
        f"{escape(facet)} = {escape(str(entry.get('value_or_threshold')))}</h3>{badge}"
        f'<span class="muted">{escape(fmt(entry.get("group_size")))} rows</span></div>'
        '<table><thead><tr><th>Metric</th><th class="num">Value</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table></div>"
    )


def _header(clarify: ClarifyJob, report: dict[str, Any]) -> str:
    positive = report.get("positive_label_values", clarify.positive_label_values)
    facets = ", ".join(str(f.get("name")) for f in report.get("facets") or clarify.facets or [])
    items = [
        f"dataset <strong>{escape(clarify.dataset_label or '')}</strong>",
        f"label <strong>{escape(str(clarify.label))}</strong>",
        f"favourable <strong>{escape(positive_text(positive))}</strong>",
    ]
    if facets:
        items.append(f"facets <strong>{escape(facets)}</strong>")
    if clarify.model_package is not None:
        items.append(f"model <strong>{escape(str(clarify.model_package))}</strong>")
    if report.get("num_rows") is not None:
        items.append(f"{escape(fmt(report.get('num_rows')))} rows")
    items.append(f"created {clarify.created_at:%Y-%m-%d %H:%M} UTC")
    return (
        f"<h1>{escape(clarify.name)}</h1>"
        '<p class="sub">Clarify report: bias metrics as SageMaker Clarify defines them, and '
        "SHAP explanations.</p>"
        f'<div class="meta">{"".join(f"<span>{i}</span>" for i in items)}</div>'
    )


def clarify_report_html(clarify: ClarifyJob) -> str:
    """The Clarify job's report as one HTML page that needs no network."""
    from plotly.offline import get_plotlyjs

    report = clarify.report or {}
    parts = [_header(clarify, report)]
    for key, (title, hint) in STAGE_TITLES.items():
        entries = report.get(key)
        if entries is None:
            continue
        parts.append(f"<h2>{title}</h2><p class='hint'>{hint}</p>")
        figure = bias_figure(entries, f"{title}: one metric across the groups")
        if figure is not None:
            parts.append(f'<div class="card chart">{_html(figure, key)}</div>')
        parts.append(
            '<div class="groups" style="margin-top:14px">'
            + "".join(_group_table(e) for e in entries)
            + "</div>"
        )
    explanations = report.get("explanations") or {}
    if explanations:
        parts.append(
            "<h2>Explanations</h2><p class='hint'>"
            f"{escape(str(explanations.get('method', '')))} SHAP values of "
            f"{escape(str(explanations.get('output', 'the model output')))}; expected value "
            f"{escape(fmt(explanations.get('expected_value')))}.</p>"
        )
        for figure, name in (
            (
                importance_figure(explanations.get("global_importance") or [], "Global importance"),
                "importance",
            ),
            (dependence_figure(explanations.get("dependence") or {}), "dependence"),
            (waterfall_figure(explanations), "row"),
        ):
            if figure is not None:
                parts.append(f'<div class="card chart">{_html(figure, name)}</div>')
    parts.append(f"<footer>Sextant · Clarify job #{clarify.pk}</footer>")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(clarify.name)} · Clarify report</title>"
        f"<style>{CSS}</style><script>{get_plotlyjs()}</script></head>"
        f"<body><main>{''.join(parts)}</main></body></html>"
    )
