"""The registry engine without a database: what an upload may be, and the wrapping of
models into the studio's archive, loaded back by the training engine."""

from __future__ import annotations

import io
import tarfile

import joblib
import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest, RandomForestRegressor
from sklearn.svm import SVC

from registry.engine import (
    PackageError,
    WrapSpec,
    check_classes,
    check_input_schema,
    inspect_archive,
    upload_kind,
    wrap,
)
from registry.engine.package import known_categories
from training.engine import load

X = pd.DataFrame(np.random.default_rng(0).normal(size=(120, 3)), columns=["a", "b", "c"])


def saved(tmp_path, estimator, name="model.joblib"):
    path = tmp_path / name
    joblib.dump(estimator, path)
    return path


def wrapped(tmp_path, source, kind="sklearn", **spec):
    output = tmp_path / "out" / "model.tar.gz"
    metadata = wrap(WrapSpec(source=source, kind=kind, output=output, **spec))
    return metadata, load(output)


def test_upload_kinds_come_from_the_known_endings_only():
    assert upload_kind("model.tar.gz") == "archive" and upload_kind("M.TGZ") == "archive"
    assert upload_kind("../../etc/model.joblib") == "sklearn"
    assert upload_kind("p.pkl") == "sklearn" and upload_kind("b.ubj") == "xgboost"
    assert upload_kind("b.json") == "xgboost"
    for bad in ("model.tar", "model.zip", "model", ""):
        with pytest.raises(PackageError) as info:
            upload_kind(bad)
        assert info.value.field == "artifact"


def test_input_schemas_are_names_types_or_a_metadata_schema():
    assert check_input_schema(["a", "b"]) == [
        {"name": "a", "kind": "numeric", "dtype": "float64"},
        {"name": "b", "kind": "numeric", "dtype": "float64"},
    ]
    assert check_input_schema(
        '[{"name": "n", "type": "int"}, {"name": "city", "type": "string"}, '
        '{"name": "when", "type": "date"}, {"name": "note", "type": "text"}]'
    ) == [
        {"name": "n", "kind": "numeric", "dtype": "int64"},
        {"name": "city", "kind": "categorical", "dtype": "object"},
        {"name": "when", "kind": "datetime", "dtype": "datetime64[ns]"},
        {"name": "note", "kind": "text", "dtype": "object"},
    ]
    kept = [{"name": "x", "kind": "categorical", "dtype": "object"}]
    assert check_input_schema(kept) == kept
    for bad, field in (
        ([], "input_schema"),
        ({"a": 1}, "input_schema"),
        ("not json", "input_schema"),
        ([1], "input_schema.0"),
        (["a", "a"], "input_schema.1"),
        ([{"name": "a", "type": "tensor"}], "input_schema.0.type"),
        ([{"name": "a", "kind": "image"}], "input_schema.0"),
        ([""], "input_schema.0"),
    ):
        with pytest.raises(PackageError) as info:
            check_input_schema(bad)
        assert info.value.field == field, bad


def test_classes_are_two_or_more_distinct_plain_labels():
    assert check_classes("no, yes") == ["no", "yes"]
    assert check_classes("[0, 1, 2]") == [0, 1, 2]
    assert check_classes(None) is None
    for bad in (["x"], ["a", "a"], [{"a": 1}, "b"], [float("nan"), 1.0]):
        with pytest.raises(PackageError):
            check_classes(bad)


def test_a_regressor_is_wrapped_and_predicts_as_the_original(tmp_path):
    y = X["a"] * 2 + X["b"]
    model = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    metadata, loaded = wrapped(tmp_path, saved(tmp_path, model), input_schema=["a", "b", "c"])
    assert metadata["problem_type"] == "regression" and metadata["classes"] is None
    assert metadata["hyperparameters"]["n_estimators"] == 5
    assert metadata["source"] == {"kind": "upload", "format": "joblib"}
    np.testing.assert_allclose(loaded.predict(X)["prediction"], model.predict(X))


def test_the_schema_is_put_in_the_order_the_model_was_fitted_with(tmp_path):
    model = RandomForestRegressor(n_estimators=3, random_state=0).fit(X, X["a"])
    metadata, loaded = wrapped(tmp_path, saved(tmp_path, model), input_schema=["c", "a", "b"])
    assert [c["name"] for c in metadata["input_schema"]] == ["a", "b", "c"]
    np.testing.assert_allclose(loaded.predict(X[["c", "b", "a"]])["prediction"], model.predict(X))
    with pytest.raises(PackageError, match="names 'd', a column the model does not take"):
        wrapped(tmp_path, saved(tmp_path, model), input_schema=["a", "b", "c", "d"])


def test_what_an_estimator_solves_is_inferred_or_checked(tmp_path):
    clusters, _ = wrapped(
        tmp_path, saved(tmp_path, KMeans(2, n_init=1).fit(X)), input_schema=["a", "b", "c"]
    )
    assert clusters["problem_type"] == "clustering"
    outliers, loaded = wrapped(
        tmp_path,
        saved(tmp_path, IsolationForest(n_estimators=5, random_state=0).fit(X)),
        input_schema=["a", "b", "c"],
    )
    assert outliers["problem_type"] == "anomaly_detection"
    assert list(loaded.predict(X.head(3)).columns) == ["score", "is_anomaly"]
    reduced, _ = wrapped(tmp_path, saved(tmp_path, PCA(2).fit(X)), input_schema=["a", "b", "c"])
    assert reduced["problem_type"] == "dimensionality_reduction"
    regressor = saved(tmp_path, RandomForestRegressor(n_estimators=2).fit(X, X["a"]))
    with pytest.raises(PackageError, match="is a regression model, not a binary") as info:
        wrapped(
            tmp_path, regressor, input_schema=["a", "b", "c"], problem_type="binary_classification"
        )
    assert info.value.field == "problem_type"
    svc = saved(tmp_path, SVC().fit(X, X["a"] > 0))
    with pytest.raises(PackageError, match="no predict_proba"):
        wrapped(tmp_path, svc, input_schema=["a", "b", "c"])
    not_a_model = saved(tmp_path, {"weights": [1, 2]})
    with pytest.raises(PackageError, match="not a scikit-learn estimator"):
        wrapped(tmp_path, not_a_model, input_schema=["a"])


def test_an_xgboost_regressor_in_ubj_is_wrapped_with_its_objective(tmp_path):
    model = xgboost.XGBRegressor(n_estimators=10).fit(X.to_numpy(), X["a"].to_numpy())
    path = tmp_path / "reg.ubj"
    model.save_model(path)
    metadata, loaded = wrapped(tmp_path, path, kind="xgboost", input_schema=["a", "b", "c"])
    assert metadata["objective"] == "reg:squarederror" and metadata["number_type"] == "float32"
    np.testing.assert_allclose(
        loaded.predict(X)["prediction"], model.predict(X.to_numpy()), rtol=1e-6
    )
    with tarfile.open(tmp_path / "out" / "model.tar.gz") as tar:
        assert "xgboost-model.json" in tar.getnames()  # the booster, for fast serving
    with pytest.raises(PackageError, match="takes 3 columns; input_schema names 2"):
        wrapped(tmp_path, path, kind="xgboost", input_schema=["a", "b"])
    with pytest.raises(PackageError, match="has no classes"):
        wrapped(tmp_path, path, kind="xgboost", input_schema=["a", "b", "c"], classes=[0, 1])
    junk = tmp_path / "junk.json"
    junk.write_text('{"not": "a booster"}')
    with pytest.raises(PackageError, match="not an XGBoost model"):
        wrapped(tmp_path, junk, kind="xgboost", input_schema=["a"])


def test_example_rows_use_the_categories_an_encoder_knows(tmp_path):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"city": ["Oslo", "Rome"] * 20, "n": range(40)})
    model = Pipeline(
        [
            ("enc", ColumnTransformer([("c", OneHotEncoder(), ["city"])], remainder="passthrough")),
            ("lr", LogisticRegression()),
        ]
    ).fit(frame, frame["n"] % 2)
    assert known_categories(model) == {"city": ["Oslo", "Rome"]}
    metadata, _ = wrapped(
        tmp_path,
        saved(tmp_path, model),
        input_schema=[{"name": "city", "type": "string"}, "n"],
    )
    assert metadata["classes"] == [0, 1]


def test_archives_are_read_without_unpickling(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(PackageError, match="not a readable"):
        inspect_archive(bad)
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz") as tar:
        info = tarfile.TarInfo("model.joblib")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    with pytest.raises(PackageError, match=r"no metadata\.json"):
        inspect_archive(empty)
