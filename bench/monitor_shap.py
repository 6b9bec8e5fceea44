"""TreeSHAP throughput: Model Monitor's explanations of an XGBoost model against
``shap.TreeExplainer`` on the same rows, in the same run.

The issue's requirement: "TreeSHAP rows per second vs ``shap.TreeExplainer`` on a 100-tree
model." (no target given).

- **Model**: ``xgboost.train`` (``binary:logistic``, ``hist``, depth 6, 100 rounds) on
  100,000 generated rows × 30 float32 features with a nonlinear signal, in the benchmark
  process.
- **Sextant**: :func:`monitor.engine.explain.tree_shap_matrix` on 20,000 other rows (a NumPy
  matrix): XGBoost's exact TreeSHAP (``pred_contribs``), what a Clarify explainability job
  runs for an XGBoost model.
- **shap**: ``shap.TreeExplainer(booster).shap_values(rows)``, with its defaults (path-
  dependent perturbation, the additivity check on). Timed two ways: the explainer built
  once and ``shap_values`` alone, and building the explainer each time (what a caller who
  explains one batch pays).
- Each best of ``REPEATS`` after a warm-up, the sides taking turns in each round, with the
  booster's ``nthread`` set to ``THREADS`` (the machine's cores) for both. The values are
  compared feature by feature, and the bias with shap's ``expected_value``.
- For scale, ``shap.KernelExplainer`` (model-agnostic, what a model without trees gets) on
  a few rows with a 50-row background and its default sample count.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import Machine, now_utc, table, write_section

TRAIN_ROWS = 100_000
EXPLAIN_ROWS = 20_000
FEATURES = 30
ROUNDS = 100
DEPTH = 6
SEED = 23
REPEATS = 3
THREADS = os.cpu_count() or 1
TOLERANCE = 1e-4
KERNEL_ROWS = 5
KERNEL_BACKGROUND = 50


def generate(rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """float32 features and a 0/1 label that depends on some of them, not linearly."""
    x = rng.normal(size=(rows, FEATURES)).astype(np.float32)
    signal = (
        x[:, 0] * x[:, 1]
        + np.sin(2 * x[:, 2])
        + 0.7 * x[:, 3]
        - 0.4 * x[:, 4] ** 2
        + 0.3 * x[:, 5:10].sum(axis=1)
    )
    y = (signal + rng.normal(scale=0.7, size=rows) > 0).astype(np.float32)
    return x, y


def train(x: np.ndarray, y: np.ndarray) -> Any:
    import xgboost as xgb

    params = {
        "objective": "binary:logistic",
        "tree_method": "hist",
        "max_depth": DEPTH,
        "eta": 0.3,
        "nthread": THREADS,
        "seed": SEED,
    }
    return xgb.train(params, xgb.DMatrix(x, label=y, nthread=THREADS), num_boost_round=ROUNDS)


def interleaved(
    works: dict[str, Callable[[], Any]], repeats: int = REPEATS
) -> dict[str, tuple[float, list[float], Any]]:
    """Each work's best wall time of ``repeats`` runs after one warm-up, all its times and
    its result. The works take turns within each round, so a change of background load
    falls on all of them rather than on whichever ran last."""
    results = {name: work() for name, work in works.items()}
    times: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(repeats):
        for name, work in works.items():
            started = time.perf_counter()
            results[name] = work()
            times[name].append(time.perf_counter() - started)
    return {name: (min(times[name]), times[name], results[name]) for name in works}


def measure() -> dict[str, Any]:
    import shap
    import xgboost as xgb

    from monitor.engine.explain import tree_shap_matrix

    rng = np.random.default_rng(SEED)
    x_train, y_train = generate(TRAIN_ROWS, rng)
    x, _ = generate(EXPLAIN_ROWS, rng)
    started = time.perf_counter()
    booster = train(x_train, y_train)
    train_seconds = time.perf_counter() - started
    booster.set_param({"nthread": THREADS})
    trees = len(booster.get_dump())

    explainer = shap.TreeExplainer(booster)
    timed = interleaved(
        {
            "ours": lambda: tree_shap_matrix(booster, x),
            "theirs": lambda: explainer.shap_values(x),
            "fresh": lambda: shap.TreeExplainer(booster).shap_values(x),
            "build": lambda: shap.TreeExplainer(booster),
        }
    )
    ours_s, ours_times, ours = timed["ours"]
    theirs_s, theirs_times, theirs = timed["theirs"]
    fresh_s, fresh_times, _ = timed["fresh"]
    build_s = timed["build"][0]

    theirs = np.asarray(theirs)
    values_diff = float(np.abs(ours[:, :-1] - theirs).max())
    bias_diff = float(np.abs(ours[:, -1] - float(explainer.expected_value)).max())
    margin = booster.predict(xgb.DMatrix(x), output_margin=True)
    additivity = float(np.abs(ours.sum(axis=1) - margin).max())

    def margin_of(matrix: np.ndarray) -> np.ndarray:
        out: np.ndarray = booster.predict(xgb.DMatrix(matrix), output_margin=True)
        return out

    background = shap.sample(x_train, KERNEL_BACKGROUND, random_state=SEED)
    kernel = shap.KernelExplainer(margin_of, background)
    started = time.perf_counter()
    kernel.shap_values(x[:KERNEL_ROWS], silent=True)
    kernel_s = time.perf_counter() - started

    return {
        "train_seconds": train_seconds,
        "trees": trees,
        "ours": ours_s,
        "ours_times": ours_times,
        "theirs": theirs_s,
        "theirs_times": theirs_times,
        "fresh": fresh_s,
        "fresh_times": fresh_times,
        "build": build_s,
        "values_diff": values_diff,
        "bias_diff": bias_diff,
        "additivity": additivity,
        "kernel": kernel_s,
        "shap_version": shap.__version__,
        "xgboost_version": xgb.__version__,
    }


def run(*, out: Path | None, machine: Machine) -> dict[str, Any]:
    print(
        f"[shap] {TRAIN_ROWS:,} × {FEATURES} training rows, {ROUNDS} trees of depth {DEPTH}; "
        f"explaining {EXPLAIN_ROWS:,} rows on {THREADS} threads …",
        flush=True,
    )
    load = os.getloadavg()[0]
    result = measure()
    result["load"] = load
    print(
        f"[shap] Sextant {EXPLAIN_ROWS / result['ours']:,.0f} rows/s, shap.TreeExplainer "
        f"{EXPLAIN_ROWS / result['theirs']:,.0f} rows/s, max |diff| {result['values_diff']:.1e}",
        flush=True,
    )
    body = render(machine, result)
    print(body)
    if out is not None:
        write_section(out, "monitor-shap", body)
    return result


def _rate(seconds: float, rows: int = EXPLAIN_ROWS) -> str:
    return f"{rows / seconds:,.0f}"


def render(machine: Machine, r: dict[str, Any]) -> str:
    ours = r["ours"]
    rows = [
        (
            "**Sextant `tree_shap_matrix`** (XGBoost `pred_contribs`)",
            f"**{ours * 1000:,.0f} ms**",
            f"**{_rate(ours)}**",
            "1.00×",
        ),
        (
            "`shap.TreeExplainer(booster)` built once, `shap_values`",
            f"{r['theirs'] * 1000:,.0f} ms",
            _rate(r["theirs"]),
            f"{r['theirs'] / ours:.2f}×",
        ),
        (
            "`shap.TreeExplainer(booster).shap_values` (built each time)",
            f"{r['fresh'] * 1000:,.0f} ms",
            _rate(r["fresh"]),
            f"{r['fresh'] / ours:.2f}×",
        ),
        (
            f"`shap.KernelExplainer`, {KERNEL_BACKGROUND}-row background, {KERNEL_ROWS} rows",
            f"{r['kernel'] * 1000:,.0f} ms for {KERNEL_ROWS} rows",
            f"{KERNEL_ROWS / r['kernel']:,.1f}",
            f"{(r['kernel'] / KERNEL_ROWS) / (ours / EXPLAIN_ROWS):,.0f}× per row",
        ),
    ]
    agree = r["values_diff"] <= TOLERANCE and r["bias_diff"] <= TOLERANCE
    times = ", ".join(f"{t * 1000:.0f}" for t in r["ours_times"])
    peer_times = ", ".join(f"{t * 1000:.0f}" for t in r["theirs_times"])
    fresh_times = ", ".join(f"{t * 1000:.0f}" for t in r["fresh_times"])
    return f"""## TreeSHAP: Model Monitor's explanations against shap.TreeExplainer

Measured {now_utc()} on {machine.markdown()}; xgboost {r["xgboost_version"]}, shap
{r["shap_version"]}; 1-minute load average {r["load"]:.2f} before the run.
Model: `xgboost.train` (`binary:logistic`, `hist`, depth {DEPTH}, {r["trees"]} trees) on
{TRAIN_ROWS:,} generated rows × {FEATURES} float32 features ({r["train_seconds"]:.1f} s to
train). Explained: {EXPLAIN_ROWS:,} other rows, as a NumPy matrix, exact path-dependent
TreeSHAP; the booster's `nthread` is {THREADS} for both sides. Best of {REPEATS} after a
warm-up, the sides taking turns in each round (Sextant: {times} ms; shap, built once:
{peer_times} ms; built each time: {fresh_times} ms). Building a `TreeExplainer` alone
takes {r["build"] * 1000:,.0f} ms. shap's `shap_values` on an XGBoost booster calls the
same `pred_contribs`, then predicts the margin again for its additivity check (on by
default).

{table(["", "time", "rows/s", "time vs Sextant"], rows)}

Agreement: the largest difference from shap over {EXPLAIN_ROWS:,} rows × {FEATURES}
features is {r["values_diff"]:.1e}, and {r["bias_diff"]:.1e} on the bias against shap's
`expected_value` ({"within" if agree else "**not** within"} {TOLERANCE:g}); Sextant's values
plus the bias add up to the model's margin within {r["additivity"]:.1e}. KernelSHAP estimates
the interventional values with {KERNEL_BACKGROUND} background rows, so it is shown for its
speed only.

Reproduce: `make bench BENCH_ARGS="--only shap"` (or `.venv/bin/python -m bench --only shap`).
"""
