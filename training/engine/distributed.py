"""XGBoost on several instances: ``xgboost.dask`` over a Dask cluster.

By default a ``LocalCluster`` of one worker process per instance, started by the training
job's child process (a plain process, so its workers may be processes too); with a
scheduler address, that cluster's workers. The rows are split in as many blocks as there
are instances; the workers build each tree together (XGBoost's collective histograms), so
the model is the one single-node training would give up to the order of floating-point
sums. The fitted booster comes back as a plain ``XGBClassifier``/``XGBRegressor``, so the
saved model is the same kind as a single-node one.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from training.engine.algorithms import FitContext


@contextmanager
def _client(address: str | None, workers: int, threads: int) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    if address:
        with Client(address, timeout=30) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def fit_xgboost(
    model: Any,
    x: Any,
    y: np.ndarray,
    ctx: FitContext,
    *,
    instances: int,
    address: str | None = None,
) -> Any:
    """``model`` (an unfitted XGBClassifier/XGBRegressor) trained on ``instances`` Dask
    workers; returns a fitted model of the same class. Metrics per round are reported once
    the rounds are done (they are computed on the workers)."""
    import dask.array as da
    import xgboost as xgb
    import xgboost.dask as dxgb

    threads = max(1, ctx.threads // instances)
    params = {k: v for k, v in model.get_params().items() if k not in ("callbacks", "n_jobs")}
    regression = isinstance(model, xgb.XGBRegressor)
    dask_cls = dxgb.DaskXGBRegressor if regression else dxgb.DaskXGBClassifier
    local_cls = xgb.XGBRegressor if regression else xgb.XGBClassifier

    def blocks(values: Any, labels: np.ndarray) -> tuple[Any, Any]:
        dense = np.asarray(values.toarray() if hasattr(values, "toarray") else values, "float32")
        rows = max(1, math.ceil(len(dense) / instances))
        return da.from_array(dense, chunks=(rows, -1)), da.from_array(labels, chunks=rows)

    with _client(address, instances, threads) as client:
        train_x, train_y = blocks(x, y)
        evals = [(train_x, train_y)]
        channels = ["train"]
        if ctx.validation is not None:
            evals.append(blocks(*ctx.validation))
            channels.append("validation")
        fitted = dask_cls(n_jobs=threads, **params)
        fitted.client = client
        fitted.fit(train_x, train_y, eval_set=evals, verbose=False)
        history = fitted.evals_result()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.json"
            fitted.save_model(path)
            local = local_cls(n_jobs=ctx.threads, **params)
            local.load_model(path)
    rounds = max((len(v) for log in history.values() for v in log.values()), default=0)
    for step in range(rounds):
        values = {}
        for i, channel in enumerate(channels):
            for metric, points in history.get(f"validation_{i}", {}).items():
                if step < len(points):
                    values[f"{channel}:{metric}"] = float(points[step])
        ctx.on_iteration(step, values)
    return local
