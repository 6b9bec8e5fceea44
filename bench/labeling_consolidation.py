"""Annotation consolidation: the labeling engine's Dawid–Skene against crowd-kit's, on the
same simulated answers, in the same run.

- **Answers**: 33,334 items × 3 answers each from 100 simulated workers (100,002 answers),
  5 classes, a fixed seed. Each worker answers by a known confusion matrix: 60 diligent
  ones (accuracy drawn from 0.55–0.9, errors spread evenly), 20 spammers (every answer a
  uniform draw) and 20 biased ones (right 30% of the time, and 60% of the time the next
  class: a strong off-diagonal a majority vote cannot see through). The three workers of
  an item are distinct, drawn uniformly.
- **Sextant**: :func:`labeling.engine.consolidate.dawid_skene` on the three int arrays, in
  the benchmark process, best of 5 after a warm-up.
- **crowd-kit**: ``DawidSkene(n_iter=100).fit_predict(df)`` on a DataFrame with columns
  task, worker, label, in a virtual environment of its own (``var/bench/crowdkit-venv``,
  made on first use with pip: crowd-kit may pin other versions than ours), best of 3 in one
  child process, reading the same answers from a Parquet file.

Both start from the soft majority vote, stop after at most 100 iterations or once the
log-likelihood (crowd-kit: its evidence lower bound) per answer gains less than 1e-5,
crowd-kit's default tolerance. Both are scored against the known truth, and each's
recovered confusion matrices against the simulated ones. Targets (the issue's): accuracy
within 0.2 point of crowd-kit's, at least 5× faster.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.peers import ensure_venv
from bench.report import Machine, now_utc, table, write_section
from labeling.engine.consolidate import dawid_skene, majority_vote

ROOT = Path(__file__).resolve().parent.parent

N_ITEMS = 33_334
PER_ITEM = 3
N_WORKERS = 100
N_CLASSES = 5
SEED = 7
MAX_ITER = 100
TOL = 1e-5  # crowd-kit's default
OUR_ROUNDS = 5
PEER_ROUNDS = 3

QUIET_LOAD = 1.0
QUIET_PATIENCE_SECONDS = 120.0

TARGET_SPEEDUP = 5.0
TARGET_ACCURACY_POINTS = 0.2

CROWDKIT_VERSION = "1.4.2"
CROWDKIT_VENV = ROOT / "var" / "bench" / "crowdkit-venv"
CROWDKIT_PYTHON = CROWDKIT_VENV / "bin" / "python"


# --------------------------------------------------------------------------- the answers


@dataclass(frozen=True)
class Answers:
    """Simulated answers, the truth behind them and the workers' real confusion matrices."""

    truth: np.ndarray
    items: np.ndarray
    workers: np.ndarray
    classes: np.ndarray
    confusion: np.ndarray


def worker_confusions(rng: np.random.Generator) -> np.ndarray:
    """``[worker, true class, answered class]``: 60 diligent, 20 spammers, 20 biased."""
    k = N_CLASSES
    out = []
    for _ in range(60):
        accuracy = rng.uniform(0.55, 0.9)
        m = np.full((k, k), (1 - accuracy) / (k - 1))
        np.fill_diagonal(m, accuracy)
        out.append(m)
    out.extend(np.full((k, k), 1 / k) for _ in range(20))
    for _ in range(20):
        m = np.full((k, k), 0.1 / (k - 2))
        np.fill_diagonal(m, 0.3)
        m[np.arange(k), (np.arange(k) + 1) % k] = 0.6
        out.append(m)
    return np.array(out)[rng.permutation(N_WORKERS)]


def simulate(seed: int = SEED) -> Answers:
    rng = np.random.default_rng(seed)
    confusion = worker_confusions(rng)
    truth = rng.integers(0, N_CLASSES, N_ITEMS)
    # Three distinct workers per item: the first three of a random order of all of them.
    workers = np.argsort(rng.random((N_ITEMS, N_WORKERS)), axis=1)[:, :PER_ITEM].ravel()
    items = np.repeat(np.arange(N_ITEMS), PER_ITEM)
    cumulative = confusion[workers, truth[items]].cumsum(axis=1)
    classes = np.minimum((rng.random(len(items))[:, None] > cumulative).sum(axis=1), N_CLASSES - 1)
    return Answers(truth, items, workers, classes, confusion)


# --------------------------------------------------------------------------- Sextant


def ours(answers: Answers) -> dict[str, Any]:
    def fit() -> Any:
        return dawid_skene(
            answers.items,
            answers.workers,
            answers.classes,
            n_items=N_ITEMS,
            n_classes=N_CLASSES,
            n_workers=N_WORKERS,
            max_iter=MAX_ITER,
            tol=TOL,
        )

    fit()
    times = []
    for _ in range(OUR_ROUNDS):
        started = time.perf_counter()
        result = fit()
        times.append(time.perf_counter() - started)
    vote = majority_vote(
        answers.items, answers.workers, answers.classes, n_items=N_ITEMS, n_classes=N_CLASSES
    )
    return {
        "seconds": min(times),
        "times": times,
        "iterations": result.iterations,
        "accuracy": float((result.labels == answers.truth).mean()),
        "confusion_error": float(np.abs(result.worker_confusion - answers.confusion).mean()),
        "labels": result.labels,
        "majority_accuracy": float((vote.labels == answers.truth).mean()),
    }


# --------------------------------------------------------------------------- crowd-kit


def peer_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "DJANGO_SETTINGS_MODULE")
    }
    env["PATH"] = f"{CROWDKIT_VENV / 'bin'}:{env.get('PATH', '')}"
    return env


def ensure_crowdkit() -> str:
    """Make (or reuse) crowd-kit's environment; "" when it is ready, else why it is not."""
    return ensure_venv(
        CROWDKIT_VENV,
        {"crowd-kit": CROWDKIT_VERSION},
        name="crowd-kit",
        tag="consolidation",
        extra=("pyarrow",),
    )


# Runs with crowd-kit's interpreter: nothing of Sextant is imported there.
PEER_SCRIPT = """
import json, sys, time
import numpy as np, pandas as pd
from crowdkit.aggregation import DawidSkene

src, dst, rounds, n_workers, n_classes = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
df = pd.read_parquet(src)
times = []
for _ in range(rounds):
    model = DawidSkene(n_iter=100)
    started = time.perf_counter()
    labels = model.fit_predict(df)
    times.append(time.perf_counter() - started)
labels.rename("label").rename_axis("task").reset_index().to_parquet(dst)
# errors_ is indexed (worker, answered class), a column per true class.
confusion = np.zeros((n_workers, n_classes, n_classes))
for (worker, answered), row in model.errors_.iterrows():
    for true, p in row.items():
        confusion[int(worker), int(true), int(answered)] = p
import crowdkit, importlib.metadata as m
print("RESULT " + json.dumps({
    "times": times,
    "iterations": len(model.loss_history_),
    "tol": model.tol,
    "confusion": confusion.tolist(),
    "version": m.version("crowd-kit"),
    "pandas": pd.__version__,
}))
"""


def theirs(answers: Answers, scratch: Path) -> dict[str, Any]:
    src, dst = scratch / "answers.parquet", scratch / "crowdkit-labels.parquet"
    pd.DataFrame(
        {"task": answers.items, "worker": answers.workers, "label": answers.classes}
    ).to_parquet(src)
    done = subprocess.run(
        [
            str(CROWDKIT_PYTHON),
            "-c",
            PEER_SCRIPT,
            str(src),
            str(dst),
            str(PEER_ROUNDS),
            str(N_WORKERS),
            str(N_CLASSES),
        ],
        capture_output=True,
        text=True,
        env=peer_env(),
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"crowd-kit failed: {done.stderr.strip().splitlines()[-1:]}")
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1]
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    predicted = pd.read_parquet(dst)
    labels = np.full(N_ITEMS, -1, dtype=np.int64)
    labels[predicted["task"].to_numpy()] = predicted["label"].to_numpy()
    confusion = np.array(result.pop("confusion"))
    result.update(
        seconds=min(result["times"]),
        accuracy=float((labels == answers.truth).mean()),
        confusion_error=float(np.abs(confusion - answers.confusion).mean()),
        labels=labels,
    )
    return result


# --------------------------------------------------------------------------- the run


def wait_quiet() -> float:
    """The 1-minute load average, once below ``QUIET_LOAD`` or after the patience: both
    sides are timed on a machine no busier than the other's."""
    deadline = time.monotonic() + QUIET_PATIENCE_SECONDS
    load = os.getloadavg()[0]
    while load >= QUIET_LOAD and time.monotonic() < deadline:
        print(
            f"[consolidation] load average {load:.2f}: waiting for a quieter machine …", flush=True
        )
        time.sleep(10)
        load = os.getloadavg()[0]
    return load


def run(*, scratch: Path, out: Path | None, machine: Machine) -> dict[str, Any]:
    answers = simulate()
    print(
        f"[consolidation] {len(answers.items):,} answers: {N_ITEMS:,} items × {PER_ITEM} of "
        f"{N_WORKERS} workers, {N_CLASSES} classes",
        flush=True,
    )
    load = wait_quiet()
    mine = ours(answers)
    print(
        f"[consolidation] Sextant: {mine['seconds'] * 1000:.1f} ms, {mine['iterations']} "
        f"iterations, accuracy {mine['accuracy']:.4f}",
        flush=True,
    )
    peer: dict[str, Any] | None = None
    note = ensure_crowdkit()
    if not note:
        load = max(load, wait_quiet())
        try:
            peer = theirs(answers, scratch)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            note = f"crowd-kit could not be measured: {exc}"
    if peer is not None:
        print(
            f"[consolidation] crowd-kit: {peer['seconds']:.2f} s, {peer['iterations']} "
            f"iterations, accuracy {peer['accuracy']:.4f}",
            flush=True,
        )
    else:
        print(f"[consolidation] {note}", flush=True)
    body = render(machine, answers, mine, peer, note, load)
    print(body)
    if out is not None:
        write_section(out, "consolidation", body)
    result = {"sextant": mine, "crowdkit": peer, "note": note}
    for side in (mine, peer):
        if side is not None:
            side.pop("labels", None)
    return result


# --------------------------------------------------------------------------- report


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def render(
    machine: Machine,
    answers: Answers,
    mine: dict[str, Any],
    peer: dict[str, Any] | None,
    note: str,
    load: float,
) -> str:
    rows: list[tuple[object, ...]] = [
        (
            "Sextant `dawid_skene`",
            f"{mine['seconds'] * 1000:.1f} ms",
            f"{mine['seconds'] * 1000 / max(mine['iterations'], 1):.2f} ms",
            mine["iterations"],
            f"{mine['accuracy']:.2%}",
            f"{mine['confusion_error']:.4f}",
        )
    ]
    verdicts: list[tuple[object, ...]] = []
    about_peer = f"crowd-kit was not measured: {note}"
    if peer is not None:
        rows.append(
            (
                f"crowd-kit {peer['version']} `DawidSkene(n_iter=100)`",
                f"{peer['seconds'] * 1000:,.0f} ms",
                f"{peer['seconds'] * 1000 / max(peer['iterations'], 1):.1f} ms",
                peer["iterations"],
                f"{peer['accuracy']:.2%}",
                f"{peer['confusion_error']:.4f}",
            )
        )
        speedup = peer["seconds"] / mine["seconds"]
        gap = (mine["accuracy"] - peer["accuracy"]) * 100
        same = float((mine["labels"] == peer["labels"]).mean())
        verdicts = [
            (
                "speed: crowd-kit's time over Sextant's",
                f"{speedup:,.1f}×",
                f"≥ {TARGET_SPEEDUP:g}×",
                _mark(speedup >= TARGET_SPEEDUP),
            ),
            (
                "accuracy: Sextant's minus crowd-kit's",
                f"{gap:+.2f} points",
                f"within ±{TARGET_ACCURACY_POINTS:g}",
                _mark(abs(gap) <= TARGET_ACCURACY_POINTS),
            ),
        ]
        about_peer = (
            f"crowd-kit {peer['version']} (pandas {peer['pandas']}) in its own virtual "
            f"environment, best of {PEER_ROUNDS} in one child process (rounds: "
            f"{', '.join(f'{t:.2f}' for t in peer['times'])} s), its default tolerance "
            f"{peer['tol']:g}. The two agree on {same:.2%} of the items."
        )
    rows.append(
        ("majority vote (for reference)", "", "", "", f"{mine['majority_accuracy']:.2%}", "")
    )
    return f"""## Annotation consolidation: Dawid–Skene against crowd-kit

Measured {now_utc()} on {machine.markdown()}; the 1-minute load average was at most
{load:.2f} when each side started.
Answers: {len(answers.items):,} simulated (seed {SEED}), {N_ITEMS:,} items × {PER_ITEM}
distinct workers of {N_WORKERS}, {N_CLASSES} classes; each worker answers by a known
confusion matrix (60 diligent with accuracy 0.55–0.9, 20 spammers, 20 biased toward the
next class). Both sides start from the soft majority vote and stop after {MAX_ITER}
iterations or once the log-likelihood per answer gains less than {TOL:g}. Sextant:
`labeling.engine.consolidate.dawid_skene` on int arrays in the benchmark process, best of
{OUR_ROUNDS} after a warm-up (rounds: {", ".join(f"{t * 1000:.1f}" for t in mine["times"])}
ms). {about_peer} Accuracy is against the simulated truth; the confusion error is the mean
absolute difference between the recovered and the simulated confusion matrices.

{table(["", "time", "per iteration", "iterations", "accuracy", "confusion error"], rows)}

{table(["measure", "measured", "target", ""], verdicts) if verdicts else ""}

Reproduce: `make bench BENCH_ARGS="--only consolidation"` (or `.venv/bin/python -m bench
--only consolidation`).
"""
