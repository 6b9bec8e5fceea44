"""``train`` itself: the problem it infers, the rows it leaves out, the errors it names, the
metric points it emits, and the awkward columns a real table has (no database, no Django)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.training.engine.helpers import messages, metric_points, run_training, write_parquet
from training.engine import get_algorithm, load, read_metadata, train
from training.engine.features import InputColumn, prepare
from training.engine.train import TrainingError, resolve_problem


def algo(name: str) -> Any:
    found = get_algorithm(name)
    assert found is not None
    return found


def binary_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Two informative numbers, one noise column and a 0/1 target."""
    rng = np.random.default_rng(seed)
    x1, x2, noise = rng.normal(size=(3, n))
    return pd.DataFrame({"x1": x1, "x2": x2, "noise": noise, "y": (x1 + x2 > 0).astype(int)})


# --------------------------------------------------------------------------- problem types


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["a", "b", "c", "a"], "multiclass_classification"),
        (["yes", "no", "yes"], "binary_classification"),
        ([True, False, True], "binary_classification"),
        ([0, 1, 0, 1], "binary_classification"),
        ([-1, 1, 1], "binary_classification"),
        ([0, 1, 2, 3, 4], "multiclass_classification"),
        ([1.0, 2.0, 3.0], "multiclass_classification"),
        (list(range(20)), "multiclass_classification"),
        (list(range(21)), "regression"),
        ([0.5, 1.5, 2.5], "regression"),
        ([1.0, 2.5], "regression"),
        (list(np.linspace(0, 1, 50)), "regression"),
    ],
)
def test_problem_type_is_inferred_from_the_target(values: list[Any], expected: str) -> None:
    for wanted in (None, "", "auto"):
        assert resolve_problem(algo("xgboost"), pd.Series(values), wanted, "y") == expected


@pytest.mark.parametrize(
    ("values", "wanted"),
    [
        ([0, 1, 2, 0], "regression"),
        ([0, 1, 0, 1], "multiclass_classification"),
        ([0.5, 1.5, 2.5], "multiclass_classification"),
        (list(range(30)), "multiclass_classification"),
        (["x", "y", "x"], "binary_classification"),
    ],
)
def test_an_explicit_problem_type_is_honoured(values: list[Any], wanted: str) -> None:
    assert resolve_problem(algo("random-forest"), pd.Series(values), wanted, "y") == wanted


@pytest.mark.parametrize(
    ("algorithm", "values", "wanted", "message"),
    [
        ("xgboost", ["a", "b"], "regression", "A regression target must hold numbers; 'y'"),
        ("xgboost", [True, False], "regression", "A regression target must hold numbers"),
        (
            "xgboost",
            [0, 1, 2],
            "binary_classification",
            "Binary classification needs two classes; 'y' has 3.",
        ),
        ("xgboost", [1, 1, 1], None, "The target 'y' has one class; it needs two."),
        ("xgboost", ["a", "a"], "multiclass_classification", "has one class"),
        (
            "xgboost",
            [f"c{i}" for i in range(1001)],
            None,
            "The target 'y' has 1,001 distinct values, too many to be classes.",
        ),
        (
            "text-classifier",
            [0.5, 1.5, 2.5],
            None,
            "The target 'y' looks like a regression, which text-classifier does not solve; "
            "set problem_type or pick another target.",
        ),
        ("text-classifier", list(range(50)), "auto", "looks like a regression"),
    ],
)
def test_a_problem_type_that_does_not_fit_the_target_is_refused(
    algorithm: str, values: list[Any], wanted: str | None, message: str
) -> None:
    with pytest.raises(TrainingError) as info:
        resolve_problem(algo(algorithm), pd.Series(values), wanted, "y")
    assert info.value.field == "target"
    assert message in info.value.message


def test_unsupervised_algorithms_solve_their_one_task() -> None:
    target = pd.Series([0, 1, 0])
    assert resolve_problem(algo("kmeans"), target, None, "y") == "clustering"
    assert resolve_problem(algo("pca"), target, "auto", "y") == "dimensionality_reduction"
    assert resolve_problem(algo("isolation-forest"), target, None, "y") == "anomaly_detection"


def test_train_reports_the_inferred_problem(tmp_path: Path) -> None:
    frame = binary_frame()
    frame["y"] = np.where(frame["y"] == 1, "churned", "stayed")
    result, events = run_training(tmp_path, "xgboost", frame, target="y", hp={"num_round": 5})
    assert result["problem_type"] == "binary_classification"
    assert result["classes"] == ["churned", "stayed"]
    assert "3 input columns → 3 features; binary_classification." in messages(events)


def test_train_honours_an_explicit_regression_on_whole_numbers(tmp_path: Path) -> None:
    frame = binary_frame()
    frame["y"] = (frame["x1"] * 3).round().astype(int) % 5
    result, _ = run_training(
        tmp_path,
        "random-forest",
        frame,
        target="y",
        hp={"num_trees": 10},
        problem_type="regression",
    )
    assert result["problem_type"] == "regression"
    assert "train:rmse" in result["final_metrics"]
    assert result["classes"] is None


def test_train_honours_an_explicit_multiclass_on_two_classes(tmp_path: Path) -> None:
    result, _ = run_training(
        tmp_path,
        "random-forest",
        binary_frame(),
        target="y",
        hp={"num_trees": 10},
        problem_type="multiclass_classification",
    )
    assert result["problem_type"] == "multiclass_classification"
    assert result["classes"] == [0, 1]
    assert result["final_metrics"]["train:accuracy"] > 0.95
    assert "train:auc" in result["final_metrics"]


def test_xgboost_honours_an_explicit_multiclass_on_two_classes(tmp_path: Path) -> None:
    result, _ = run_training(
        tmp_path,
        "xgboost",
        binary_frame(),
        target="y",
        hp={"num_round": 5},
        problem_type="multiclass_classification",
    )
    assert result["problem_type"] == "multiclass_classification"
    assert result["final_metrics"]["train:accuracy"] > 0.9


def test_train_refuses_a_problem_type_against_the_target(tmp_path: Path) -> None:
    frame = binary_frame()
    frame["y"] = np.where(frame["y"] == 1, "a", "b")
    with pytest.raises(TrainingError) as info:
        run_training(tmp_path, "xgboost", frame, target="y", problem_type="regression")
    assert info.value.field == "target"


# --------------------------------------------------------------------------- rows left out


def test_rows_without_a_target_are_left_out(tmp_path: Path) -> None:
    train_df, validation = binary_frame(120, seed=0), binary_frame(60, seed=1)
    train_df["y"] = np.where(train_df["y"] == 1, "up", "down").astype(object)
    validation["y"] = np.where(validation["y"] == 1, "up", "down").astype(object)
    train_df.loc[[3, 10, 50], "y"] = None
    validation.loc[[0, 1], "y"] = None
    result, events = run_training(
        tmp_path, "xgboost", train_df, validation=validation, target="y", hp={"num_round": 5}
    )
    said = messages(events)
    assert said[0] == "train: 120 rows, validation: 60 rows."
    assert "train: 3 rows without a target left out." in said
    assert "validation: 2 rows without a target left out." in said
    assert result["rows"] == {"train": 117, "validation": 58}
    assert result["classes"] == ["down", "up"]


def test_unsupervised_algorithms_keep_rows_without_a_target(tmp_path: Path) -> None:
    frame = binary_frame(60)
    frame["y"] = frame["y"].astype(float)
    frame.loc[[0, 1], "y"] = np.nan
    result, events = run_training(tmp_path, "kmeans", frame, target="y", hp={"k": 2})
    assert result["rows"] == {"train": 60}
    assert not any("left out" in m for m in messages(events))


def test_whole_number_classes_stay_whole_when_a_target_is_missing(tmp_path: Path) -> None:
    frame = binary_frame(60)
    frame["y"] = frame["y"].astype(float)
    frame.loc[5, "y"] = np.nan
    result, _ = run_training(tmp_path, "xgboost", frame, target="y", hp={"num_round": 3})
    assert result["classes"] == [0, 1]
    assert all(type(c) is int for c in result["classes"])


def test_validation_rows_of_classes_unseen_in_train_are_left_out(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    labels = np.array(["a", "b", "c"])

    def frame(n: int, classes: np.ndarray) -> pd.DataFrame:
        y = rng.choice(classes, size=n)
        x = np.select([y == "a", y == "b", y == "c"], [0.0, 5.0, 10.0], 20.0)
        return pd.DataFrame({"x": x + rng.normal(0, 0.1, n), "y": y})

    train_df = frame(90, labels)
    validation = pd.concat([frame(30, labels), frame(4, np.array(["d"]))], ignore_index=True)
    test = pd.concat([frame(20, labels), frame(3, np.array(["e", "f"]))], ignore_index=True)
    result, events = run_training(
        tmp_path,
        "knn",
        train_df,
        validation=validation,
        test=test,
        target="y",
    )
    said = messages(events)
    assert "validation: 4 rows of classes not in train left out." in said
    assert "test: 3 rows of classes not in train left out." in said
    assert result["rows"] == {"train": 90, "validation": 30, "test": 20}
    assert result["classes"] == ["a", "b", "c"]
    assert result["final_metrics"]["validation:accuracy"] == 1.0
    assert result["final_metrics"]["test:accuracy"] == 1.0


# --------------------------------------------------------------------------- errors


def test_a_missing_target_column_is_named(tmp_path: Path) -> None:
    train_df, validation = binary_frame(), binary_frame(seed=1).drop(columns=["y"])
    with pytest.raises(TrainingError) as info:
        run_training(tmp_path, "xgboost", train_df, validation=validation, target="y")
    assert info.value.field == "target"
    assert info.value.message == "The validation channel has no column 'y'."
    with pytest.raises(TrainingError) as info:
        run_training(tmp_path, "xgboost", train_df, target="label")
    assert info.value.field == "target"
    assert info.value.message == "The train channel has no column 'label'."


def test_a_supervised_algorithm_needs_a_target(tmp_path: Path) -> None:
    for target in (None, ""):
        with pytest.raises(TrainingError) as info:
            run_training(tmp_path, "linear-learner", binary_frame(), target=target)
        assert info.value.field == "target"
        assert "learns to predict a target" in info.value.message


def test_spec_errors_name_their_field(tmp_path: Path) -> None:
    path = write_parquet(binary_frame(), tmp_path / "train.parquet")
    base = {"algorithm": "xgboost", "channels": {"train": path}, "target": "y"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"algorithm": "nope"}, "algorithm"),
        ({"hyperparameters": {"eta": 0}}, "hyperparameters.eta"),
        ({"hyperparameters": {"depth": 3}}, "hyperparameters.depth"),
        ({"problem_type": "clustering"}, "problem_type"),
        ({"channels": {"validation": path}}, "channels.train"),
        ({"channels": {"train": str(tmp_path / "missing.parquet")}}, "channels"),
    ]
    (tmp_path / "garbage.parquet").write_bytes(b"not parquet")
    cases.append(({"channels": {"train": str(tmp_path / "garbage.parquet")}}, "channels"))
    for change, field in cases:
        spec = {**base, "output_dir": str(tmp_path / "out"), **change}
        with pytest.raises(TrainingError) as info:
            train(spec)
        assert info.value.field == field, change
    assert not (tmp_path / "out").exists()


def test_a_train_channel_without_labelled_rows_is_refused(tmp_path: Path) -> None:
    frame = binary_frame(10).astype({"y": "float64"})
    frame["y"] = np.nan
    with pytest.raises(TrainingError) as info:
        run_training(tmp_path, "xgboost", frame, target="y")
    assert info.value.field == "channels.train"
    assert info.value.message == "The train channel has no row to learn from."


def test_a_train_channel_of_only_the_target_says_it_has_no_input_column(tmp_path: Path) -> None:
    frame = binary_frame(40)[["y"]]
    with pytest.raises(TrainingError) as info:
        run_training(tmp_path, "xgboost", frame, target="y")
    assert "input column" in info.value.message


@pytest.mark.parametrize(
    ("algorithm", "hp", "field"),
    [
        ("knn", {"k": 10}, "hyperparameters.k"),
        ("kmeans", {"k": 10}, "hyperparameters.k"),
        ("pca", {"num_components": 5}, "hyperparameters.num_components"),
    ],
)
def test_settings_too_large_for_the_data_are_training_errors(
    tmp_path: Path, algorithm: str, hp: dict[str, Any], field: str
) -> None:
    frame = binary_frame(6)[["x1", "x2", "y"]]
    target = "y" if algorithm == "knn" else None
    try:
        run_training(tmp_path, algorithm, frame, target=target, hp=hp)
    except TrainingError as exc:
        assert exc.field == field
    except ValueError as exc:
        raise AssertionError(f"a bare {type(exc).__name__}: {exc}") from None


@pytest.mark.parametrize(
    ("frame", "hp"),
    [
        (pd.DataFrame({"text": ["good", "bad"] * 5, "y": ["p", "n"] * 5}), {"text_column": "x"}),
        (pd.DataFrame({"number": np.arange(10.0), "y": ["p", "n"] * 5}), {}),
    ],
)
def test_text_column_problems_are_training_errors(
    tmp_path: Path, frame: pd.DataFrame, hp: dict[str, Any]
) -> None:
    try:
        run_training(tmp_path, "text-classifier", frame, target="y", hp=hp)
    except TrainingError as exc:
        assert exc.field == "hyperparameters.text_column"
    except ValueError as exc:
        raise AssertionError(f"a bare ValueError: {exc}") from None
    else:
        raise AssertionError("no error")


# --------------------------------------------------------------------------- metric points


@pytest.mark.parametrize(
    ("make_target", "metric"),
    [
        (lambda f: f["y"], "logloss"),
        (lambda f: (f["x1"] * 2).round().clip(-2, 2).astype(int), "mlogloss"),
        (lambda f: f["x1"] * 3 + f["x2"], "rmse"),
    ],
)
def test_xgboost_emits_one_point_per_round_for_each_channel(
    tmp_path: Path, make_target: Any, metric: str
) -> None:
    train_df, validation = binary_frame(120), binary_frame(60, seed=1)
    train_df["y"], validation["y"] = make_target(train_df), make_target(validation)
    result, events = run_training(
        tmp_path, "xgboost", train_df, validation=validation, target="y", hp={"num_round": 7}
    )
    points = metric_points(events)
    assert {p["name"] for p in points} == {f"train:{metric}", f"validation:{metric}"}
    for channel in ("train", "validation"):
        steps = [p["step"] for p in points if p["name"] == f"{channel}:{metric}"]
        assert steps == list(range(7))
    # xgboost's own last value is the final metric (up to its float32 sums).
    final = result["final_metrics"]
    last = {p["name"]: p["value"] for p in points}
    if metric == "logloss":
        assert last["validation:logloss"] == pytest.approx(final["validation:logloss"], abs=1e-5)
    if metric == "rmse":
        assert last["validation:rmse"] == pytest.approx(final["validation:rmse"], rel=1e-5)

    progress = [e["progress"] for e in events if "progress" in e]
    assert progress == sorted(progress)
    assert progress[0] == 0.05
    assert progress[-1] == 1.0


def test_xgboost_emits_the_chosen_metric_and_only_train_without_validation(
    tmp_path: Path,
) -> None:
    _, events = run_training(
        tmp_path, "xgboost", binary_frame(), target="y", hp={"num_round": 4, "eval_metric": "auc"}
    )
    points = metric_points(events)
    assert [(p["name"], p["step"]) for p in points] == [("train:auc", s) for s in range(4)]
    assert all(0.5 <= p["value"] <= 1.0 for p in points)


def test_mlp_emits_its_loss_per_epoch(tmp_path: Path) -> None:
    hp = {"hidden_layer_sizes": [4], "epochs": 5}
    _, events = run_training(tmp_path, "mlp", binary_frame(), target="y", hp=hp)
    points = metric_points(events)
    assert [(p["name"], p["step"]) for p in points] == [("train:loss", s) for s in range(5)]
    hp = {"hidden_layer_sizes": [4], "epochs": 5, "early_stopping": True}
    _, events = run_training(tmp_path, "mlp", binary_frame(), target="y", hp=hp)
    names = [p["name"] for p in metric_points(events)]
    assert names.count("train:loss") == 5
    assert names.count("holdout:score") == 5


# --------------------------------------------------------------------------- awkward columns


def mixed_frame(n: int, seed: int) -> pd.DataFrame:
    """A target set by a unicode category (with gaps), a date and a flag; plus noise."""
    rng = np.random.default_rng(seed)
    city = rng.choice(np.array(["Zürich", "São Paulo", "東京", "Łódź", None], dtype=object), n)
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    flag = rng.integers(0, 2, n).astype(bool)
    y = np.where(pd.Series(city).isin(["Zürich", "東京"]), "north", "south")
    y = np.where(when >= pd.Timestamp("2024-07-01"), y, "early")
    y = np.where(flag, "flagged", y)
    return pd.DataFrame(
        {
            "city": pd.Series(city, dtype=object),
            "when": when,
            "flag": flag,
            "noise": rng.normal(size=n),
            "y": y,
        }
    )


@pytest.mark.parametrize(
    ("algorithm", "hp", "minimum"),
    [
        ("xgboost", {"num_round": 30}, 0.99),
        ("random-forest", {"num_trees": 30}, 0.97),
        ("mlp", {"hidden_layer_sizes": [32], "epochs": 300, "learning_rate": 0.01}, 0.9),
        ("linear-learner", {"wd": 0.01}, 0.85),
    ],
)
def test_categories_with_gaps_and_unicode_dates_and_flags(
    tmp_path: Path, algorithm: str, hp: dict[str, Any], minimum: float
) -> None:
    train_df, validation = mixed_frame(400, seed=0), mixed_frame(150, seed=1)
    result, _ = run_training(
        tmp_path, algorithm, train_df, validation=validation, target="y", hp=hp
    )
    assert result["classes"] == ["early", "flagged", "north", "south"]
    assert result["final_metrics"]["validation:accuracy"] >= minimum

    metadata = read_metadata(Path(result["artifact"]))
    kinds = {c["name"]: c["kind"] for c in metadata["input_schema"]}
    assert kinds == {
        "city": "categorical",
        "when": "datetime",
        "flag": "numeric",
        "noise": "numeric",
    }
    if algorithm == "linear-learner":  # one-hot: a column per city and one for the gaps
        assert "city_東京" in metadata["feature_names"]
        assert "city_(missing)" in metadata["feature_names"]
    if algorithm == "xgboost":
        assert set(result["feature_importance"]) <= {"city", "when", "flag", "noise"}
        assert max(result["feature_importance"].values()) > 0.2


@pytest.mark.parametrize("algorithm", ["xgboost", "knn", "random-forest", "isolation-forest"])
def test_unseen_categories_and_gaps_at_prediction_time(tmp_path: Path, algorithm: str) -> None:
    train_df = mixed_frame(200, seed=0)
    hp = {"num_round": 5} if algorithm == "xgboost" else {}
    target = None if algorithm == "isolation-forest" else "y"
    if target is None:
        train_df = train_df.drop(columns=["y"])
    result, _ = run_training(tmp_path, algorithm, train_df, target=target, hp=hp)
    model = load(Path(result["artifact"]))
    new = pd.DataFrame(
        {
            "noise": [0.1, np.nan, 0.3, 0.0],  # in another order, with an extra column
            "city": ["Kraków", None, "Zürich", "日本"],
            "when": [pd.Timestamp("2024-09-01"), pd.NaT, pd.Timestamp("2030-01-01"), None],
            "flag": [False, True, None, False],
            "extra": ["ignored"] * 4,
        }
    )
    predicted = model.predict(new)
    assert len(predicted) == 4
    if target is None:
        assert np.isfinite(predicted["score"]).all()
        return
    probabilities = predicted[[f"probability_{c}" for c in result["classes"]]]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert set(predicted["predicted_label"]) <= set(result["classes"])
    assert predicted["predicted_label"][1] == "flagged"


def test_a_column_missing_at_prediction_time_is_named(tmp_path: Path) -> None:
    result, _ = run_training(
        tmp_path, "xgboost", mixed_frame(100, seed=0), target="y", hp={"num_round": 3}
    )
    model = load(Path(result["artifact"]))
    new = mixed_frame(5, seed=1).drop(columns=["y", "when"])
    with pytest.raises(ValueError, match=r"^The data has no column 'when', which the model takes"):
        model.predict(new)


def test_dates_and_times_are_seconds_since_1970(tmp_path: Path) -> None:
    n = 100
    when = pd.date_range("2024-01-01", periods=n, freq="D")
    frame = pd.DataFrame({"when": when, "y": np.arange(n, dtype="float64") * 2.0})
    result, _ = run_training(tmp_path, "linear-learner", frame, target="y", hp={"wd": 0})
    assert result["final_metrics"]["train:r2"] == pytest.approx(1.0, abs=1e-9)
    model = load(Path(result["artifact"]))
    # Strings, tz-aware stamps and naive stamps all mean the same instant (naive is UTC).
    ask = pd.DataFrame({"when": ["2024-01-11", "2024-01-21", None]})
    predicted = model.predict(ask)["prediction"]
    assert predicted[0] == pytest.approx(20.0, abs=1e-6)
    assert predicted[1] == pytest.approx(40.0, abs=1e-6)
    assert predicted[2] == pytest.approx(99.0, abs=1e-6)  # a gap is the median date
    utc = pd.DataFrame({"when": ["2024-01-21T00:00:00Z"]})
    assert model.predict(utc)["prediction"][0] == pytest.approx(40.0, abs=1e-6)
    aware = pd.DataFrame({"when": pd.to_datetime(["2024-01-11 01:00"]).tz_localize("Europe/Paris")})
    assert model.predict(aware)["prediction"][0] == pytest.approx(20.0, abs=1e-6)

    schema = [InputColumn("when", "datetime", "datetime64[us]")]
    seconds = prepare(pd.DataFrame({"when": ["1970-01-02", "not a date"]}), schema)["when"]
    assert seconds[0] == 86_400.0
    assert np.isnan(seconds[1])


def test_dates_of_mixed_iso_layouts_are_all_read() -> None:
    schema = [InputColumn("when", "datetime", "datetime64[us]")]
    given = pd.DataFrame({"when": ["2024-01-11", "2024-01-21T00:00:00Z", "2024-01-21 05:00"]})
    seconds = prepare(given, schema)["when"]
    expected = pd.to_datetime(given["when"], format="ISO8601", utc=True)
    np.testing.assert_array_equal(
        seconds, (expected - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    )


def test_a_parquet_date_column_is_a_datetime(tmp_path: Path) -> None:
    n = 60
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(n)]
    frame = pd.DataFrame({"day": days, "y": np.arange(n, dtype="float64")})
    result, _ = run_training(tmp_path, "linear-learner", frame, target="y", hp={"wd": 0})
    schema = read_metadata(Path(result["artifact"]))["input_schema"]
    assert schema[0]["kind"] == "datetime"


def test_boolean_columns_are_zero_and_one(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    flag = rng.integers(0, 2, 80).astype(bool)
    # A boolean column with gaps reaches pandas as objects: True, False, None.
    maybe = pd.Series(np.where(rng.random(80) < 0.2, None, flag), dtype=object)
    frame = pd.DataFrame({"flag": flag, "maybe": maybe, "y": np.where(flag, "on", "off")})
    result, _ = run_training(tmp_path, "linear-learner", frame, target="y")
    assert result["final_metrics"]["train:accuracy"] == 1.0
    schema = read_metadata(Path(result["artifact"]))["input_schema"]
    assert [(c["name"], c["kind"]) for c in schema] == [("flag", "numeric"), ("maybe", "numeric")]
    model = load(Path(result["artifact"]))
    inputs = model.inputs(pd.DataFrame({"flag": [True, False], "maybe": [None, True]}))
    np.testing.assert_array_equal(inputs["flag"], [1.0, 0.0])
    np.testing.assert_array_equal(inputs["maybe"], [np.nan, 1.0])
    predicted = model.predict(pd.DataFrame({"flag": [True, False], "maybe": [None, None]}))
    assert list(predicted["predicted_label"]) == ["on", "off"]


def test_a_single_feature(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-5, 5, 200)
    frame = pd.DataFrame({"x": x, "y": 3 * x + 1 + rng.normal(0, 0.1, 200)})
    cases = (("linear-learner", {}, 0.05), ("xgboost", {"num_round": 50}, 0.5))
    for algorithm, hp, tolerance in cases:
        result, _ = run_training(tmp_path, algorithm, frame, target="y", hp=hp)
        assert result["problem_type"] == "regression"
        assert result["features"] == 1
        assert result["final_metrics"]["train:r2"] > 0.99
        predicted = load(Path(result["artifact"])).predict(pd.DataFrame({"x": [2.0]}))
        assert predicted["prediction"][0] == pytest.approx(7.0, abs=tolerance)


def test_a_numeric_column_given_as_object_strings_is_coerced() -> None:
    schema = [InputColumn("x", "numeric", "float64")]
    given = pd.DataFrame({"x": pd.Series(["1.5", "", "abc", None], dtype=object)})
    np.testing.assert_array_equal(prepare(given, schema)["x"], [1.5, np.nan, np.nan, np.nan])


def test_a_numeric_column_given_as_pandas_strings_is_coerced() -> None:
    schema = [InputColumn("x", "numeric", "float64")]
    given = pd.DataFrame({"x": ["1.5", "", "abc"]})
    assert str(given["x"].dtype) == "str"
    np.testing.assert_array_equal(prepare(given, schema)["x"], [1.5, np.nan, np.nan])


# --------------------------------------------------------------------------- results


def test_the_seed_decides_a_random_model(tmp_path: Path) -> None:
    frame, validation = binary_frame(120), binary_frame(80, seed=3)
    hp = {"num_trees": 5}
    outputs = []
    for seed in (0, 0, 1):
        result, _ = run_training(tmp_path, "random-forest", frame, target="y", hp=hp, seed=seed)
        outputs.append(load(Path(result["artifact"])).predict(validation)["probability_1"])
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert not np.array_equal(outputs[0], outputs[2])


def test_the_result_describes_the_run(tmp_path: Path) -> None:
    train_df, validation, test = binary_frame(100), binary_frame(40, 1), binary_frame(30, 2)
    result, _ = run_training(
        tmp_path,
        "linear-learner",
        train_df,
        validation=validation,
        test=test,
        target="y",
        hp={"wd": "0.5"},
    )
    assert result["rows"] == {"train": 100, "validation": 40, "test": 30}
    assert result["features"] == 3
    assert result["hyperparameters"]["wd"] == 0.5
    assert Path(result["artifact"]).name == "model.tar.gz"
    assert Path(result["artifact"]).is_file()
    assert result["fit_seconds"] >= 0
    assert result["training_seconds"] >= result["fit_seconds"]
    channels = {name.split(":")[0] for name in result["final_metrics"]}
    assert channels == {"train", "validation", "test"}
    metrics = {name.split(":")[1] for name in result["final_metrics"]}
    assert metrics == {"accuracy", "f1", "precision", "recall", "auc", "logloss"}
    assert result["final_metrics"]["test:accuracy"] > 0.9
    # The noise column weighs least.
    assert min(result["feature_importance"], key=result["feature_importance"].get) == "noise"
