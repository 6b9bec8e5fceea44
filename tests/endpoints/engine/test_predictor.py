"""A model loaded for serving: every wire format in, the pipeline's own answers out, and a
clear error for every bad body."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from endpoints.engine.payloads import CSV, JSON, PayloadError
from endpoints.engine.predictor import Predictor
from tests.endpoints.engine.conftest import FEATURES, mixed_frame, numeric_frame
from training.engine.artifact import load


def csv_body(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(header=False, index=False).encode()


def test_xgboost_takes_the_fast_path_and_answers_as_its_pipeline(xgb_archive):
    predictor = Predictor.load(xgb_archive)
    assert predictor.fast is not None
    rows = numeric_frame()[FEATURES].head(50)
    expected = load(xgb_archive).predict(rows)
    request = predictor.decode(CSV, csv_body(rows))
    out = predictor.predict([request])[0]
    assert list(out.columns["predicted_label"]) == list(expected["predicted_label"])
    np.testing.assert_allclose(
        out.columns["probabilities"],
        expected[["probability_churn", "probability_stay"]],
        rtol=1e-6,
    )


def test_csv_answers_one_label_per_line_and_json_gives_probabilities(xgb_archive):
    predictor = Predictor.load(xgb_archive)
    rows = numeric_frame()[FEATURES].head(3)
    request = predictor.decode(CSV, csv_body(rows))
    ctype, body = predictor.encode(request, predictor.predict([request])[0])
    assert ctype == CSV
    lines = body.decode().splitlines()
    assert len(lines) == 3 and set(lines) <= {"churn", "stay"}

    request = predictor.decode(JSON, json.dumps({"instances": rows.values.tolist()}).encode())
    ctype, body = predictor.encode(request, predictor.predict([request])[0])
    document = json.loads(body)
    assert ctype == JSON and document["labels"] == ["churn", "stay"]
    first = document["predictions"][0]
    assert first["predicted_label"] == lines[0]
    assert sum(first["probabilities"]) == pytest.approx(1.0)
    assert first["probability"] == max(first["probabilities"])


def test_json_rows_by_name_leave_missing_columns_as_gaps(xgb_archive):
    predictor = Predictor.load(xgb_archive)
    row = dict(zip(FEATURES, numeric_frame()[FEATURES].iloc[0].tolist(), strict=True))
    del row["f3"]
    request = predictor.decode(JSON, json.dumps({"instances": [row]}).encode())
    assert np.isnan(request.inputs[0, 3]) and request.inputs[0, 0] == pytest.approx(row["f0"])


def test_requests_predicted_together_get_their_own_answers(xgb_archive):
    predictor = Predictor.load(xgb_archive)
    rows = numeric_frame()[FEATURES]
    one = predictor.decode(CSV, csv_body(rows.head(1)))
    three = predictor.decode(CSV, csv_body(rows.iloc[1:4]))
    together = predictor.predict([one, three])
    alone = [predictor.predict([one])[0], predictor.predict([three])[0]]
    assert [len(o) for o in together] == [1, 3]
    for a, b in zip(together, alone, strict=True):
        np.testing.assert_allclose(a.columns["probabilities"], b.columns["probabilities"])


def test_v2_takes_one_matrix_or_one_tensor_per_column(xgb_archive):
    predictor = Predictor.load(xgb_archive)
    rows = numeric_frame()[FEATURES].head(2)
    matrix = {
        "id": "r1",
        "inputs": [
            {
                "name": "input-0",
                "shape": [2, 6],
                "datatype": "FP32",
                "data": rows.values.ravel().tolist(),
            }
        ],
    }
    columns = {
        "inputs": [
            {"name": c, "shape": [2], "datatype": "FP64", "data": rows[c].tolist()}
            for c in FEATURES
        ]
    }
    a = predictor.decode_v2(json.dumps(matrix).encode(), "churn")
    b = predictor.decode_v2(json.dumps(columns).encode())
    np.testing.assert_array_equal(a.inputs, b.inputs)
    _, body = predictor.encode(a, predictor.predict([a])[0])
    document = json.loads(body)
    assert document["model_name"] == "churn" and document["id"] == "r1"
    outputs = {o["name"]: o for o in document["outputs"]}
    assert outputs["predicted_label"]["datatype"] == "BYTES"
    assert outputs["probabilities"]["shape"] == [2, 2]


def test_metadata_describes_inputs_outputs_and_labels(xgb_archive):
    meta = Predictor.load(xgb_archive).metadata("churn")
    assert meta["name"] == "churn" and meta["platform"] == "sextant-xgboost"
    assert [i["name"] for i in meta["inputs"]] == FEATURES
    assert {o["name"] for o in meta["outputs"]} == {
        "predicted_label",
        "probability",
        "probabilities",
    }
    assert meta["labels"] == ["churn", "stay"]


def test_a_model_with_categories_serves_through_its_pipeline(mixed_archive):
    predictor = Predictor.load(mixed_archive)
    assert predictor.fast is None and not predictor.numeric
    rows = mixed_frame().drop(columns="target").head(20)
    expected = load(mixed_archive).predict(rows)
    request = predictor.decode(CSV, csv_body(rows))
    out = predictor.predict([request])[0]
    assert list(out.columns["predicted_label"]) == list(expected["predicted_label"])
    by_name = predictor.decode(
        JSON, json.dumps({"instances": rows.head(2).to_dict(orient="records")}).encode()
    )
    assert len(predictor.predict([by_name])[0]) == 2


def test_a_regression_answers_numbers(linear_archive):
    predictor = Predictor.load(linear_archive)
    request = predictor.decode(CSV, b"0.1,0.2,0.3,0.4\n1,2,3,4\n")
    out = predictor.predict([request])[0]
    expected = load(linear_archive).predict(
        pd.DataFrame([[0.1, 0.2, 0.3, 0.4], [1, 2, 3, 4]], columns=list("abcd"))
    )
    np.testing.assert_allclose(out.columns["prediction"], expected["prediction"], rtol=1e-5)
    _, body = predictor.encode(
        predictor.decode(JSON, b'{"instances": [[1, 2, 3, 4]]}', accept=JSON),
        out.slice(1, 2),
    )
    assert json.loads(body)["predictions"] == [pytest.approx(expected["prediction"][1])]


@pytest.mark.parametrize(
    ("content_type", "body", "status", "fragment"),
    [
        (CSV, b"", 400, "empty"),
        (CSV, b"1,2,3\n", 400, "Row 1 has 3 values; the model takes 6"),
        (CSV, b"1,2,3,4,5,6\n1,2,x,4,5,6\n", 400, "Row 2, column 'f2': 'x' is not a number"),
        (CSV, b"f0,f1,f2,f3,f4,f5\n", 400, "without a header"),
        (JSON, b"{not json", 400, "not valid JSON"),
        (JSON, b'{"rows": []}', 400, "instances"),
        (JSON, b'{"instances": []}', 400, "non-empty"),
        (JSON, b'{"instances": [[1, 2, "x", 4, 5, 6]]}', 400, "'x' is not a number"),
        (JSON, b'{"instances": [{"f9": 1}]}', 400, "'f9'"),
        ("application/xml", b"<a/>", 415, "text/csv or application/json"),
    ],
)
def test_bad_bodies_are_clear_errors(xgb_archive, content_type, body, status, fragment):
    predictor = Predictor.load(xgb_archive)
    with pytest.raises(PayloadError) as caught:
        predictor.decode(content_type, body)
    assert caught.value.status == status
    assert fragment in caught.value.message
    assert caught.value.to_dict()["error"]["code"]


def test_an_empty_field_is_a_missing_value(xgb_archive):
    predictor = Predictor.load(xgb_archive)
    request = predictor.decode(CSV, b"1,,3,4,5,6\n")
    assert np.isnan(request.inputs[0, 1])
    assert len(predictor.predict([request])[0]) == 1


def test_a_large_csv_body_parses_with_arrow_and_names_the_bad_cell(xgb_archive):
    predictor = Predictor.load(xgb_archive)
    rows = numeric_frame(4000)[FEATURES]
    body = csv_body(rows)
    assert len(body) > 64 * 1024
    request = predictor.decode(CSV, body)
    np.testing.assert_allclose(request.inputs, rows.to_numpy(np.float32))
    broken = body.replace(b"\n", b"\nnope,1,2,3,4,5\n", 1)
    with pytest.raises(PayloadError, match="Row 2, column 'f0'"):
        predictor.decode(CSV, broken)


def test_an_uploaded_pipeline_fitted_on_arrays_takes_the_fast_path(tmp_path):
    """A scaler and a logistic regression with no imputer: the probe with gaps fails by
    either path, so the check runs on complete rows, and gaps stay an error."""
    import joblib
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from registry.engine.package import WrapSpec, wrap

    x, y = make_classification(300, 5, random_state=2)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    joblib.dump(model, tmp_path / "model.joblib")
    schema = [{"name": f"c{i}", "type": "float"} for i in range(5)]
    wrap(
        WrapSpec(
            source=tmp_path / "model.joblib",
            kind="sklearn",
            output=tmp_path / "model.tar.gz",
            input_schema=schema,
        )
    )
    predictor = Predictor.load(tmp_path / "model.tar.gz")
    assert predictor.fast is not None
    request = predictor.decode(CSV, pd.DataFrame(x[:20]).to_csv(header=False, index=False).encode())
    got = predictor.predict([request])[0]
    np.testing.assert_allclose(got.columns["probabilities"], model.predict_proba(x[:20]), rtol=1e-5)
    with pytest.raises(ValueError, match="NaN"):
        predictor.predict([predictor.decode(CSV, b"1,,3,4,5\n")])


def test_a_trained_xgboost_model_is_served_by_its_booster(xgb_archive):
    """The trees' preprocessing only passes the columns through (a fitted "passthrough" is
    an identity FunctionTransformer): the booster's inplace_predict answers directly."""
    predictor = Predictor.load(xgb_archive)
    assert predictor.fast is not None and predictor.fast.__name__ == "xgb_classes"
