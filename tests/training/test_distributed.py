"""XGBoost on several instances (xgboost.dask) learns what single-node training learns, on
a LocalCluster of its own or on a cluster named by its scheduler's address."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split

from training.engine import load, train
from training.engine.train import TrainingError


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wine")
    frame = load_wine(as_frame=True).frame
    train_part, validation = train_test_split(frame, test_size=0.3, random_state=0)
    paths = {}
    for name, part in (("train", train_part), ("validation", validation)):
        paths[name] = str(folder / f"{name}.parquet")
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), paths[name])
    return paths, validation


def run(paths, out: Path, **spec):
    points = []
    result = train(
        {
            "algorithm": "xgboost",
            "channels": paths,
            "target": "target",
            "output_dir": str(out),
            "threads": 2,
            "hyperparameters": {"num_round": 25, "max_depth": 3},
            **spec,
        },
        points.append,
    )
    return result, [p["metric"] for p in points if "metric" in p]


def test_two_local_workers_learn_what_one_process_learns(wine, tmp_path):
    paths, validation = wine
    single, _ = run(paths, tmp_path / "one")
    spread, points = run(paths, tmp_path / "two", instance_count=2)
    assert spread["problem_type"] == "multiclass_classification"
    for metric in ("validation:accuracy", "validation:logloss"):
        assert spread["final_metrics"][metric] == pytest.approx(
            single["final_metrics"][metric], abs=0.02
        )
    assert [p["step"] for p in points if p["name"] == "validation:mlogloss"] == list(range(25))
    model = load(Path(spread["artifact"]))
    predicted = model.predict(validation.drop(columns="target"))
    accuracy = (predicted["predicted_label"].to_numpy() == validation["target"].to_numpy()).mean()
    assert accuracy == pytest.approx(spread["final_metrics"]["validation:accuracy"])


def test_a_scheduler_address_trains_on_that_cluster(wine, tmp_path):
    from distributed import LocalCluster

    paths, _ = wine
    with LocalCluster(
        n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=logging.ERROR
    ) as cluster:
        result, _ = run(
            paths, tmp_path / "remote", instance_count=2, dask_address=cluster.scheduler_address
        )
        # The data blocks and the training tasks went through this cluster's scheduler.
        assert {"array", "fn"} <= set(cluster.scheduler.task_prefixes)
    assert result["final_metrics"]["validation:accuracy"] > 0.9


def test_only_xgboost_trains_on_several_instances(wine, tmp_path):
    paths, _ = wine
    with pytest.raises(TrainingError) as caught:
        train(
            {
                "algorithm": "random-forest",
                "channels": paths,
                "target": "target",
                "output_dir": str(tmp_path),
                "instance_count": 2,
            }
        )
    assert caught.value.field == "instance_count"
