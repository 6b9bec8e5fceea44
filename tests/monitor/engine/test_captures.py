"""Captured traffic as tables: every wire format an endpoint answers in becomes rows keyed by
(event_id, row), and every line that cannot be read is counted, never fatal."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from endpoints.engine.capture import Event, new_event_id
from endpoints.engine.payloads import CSV, JSON, Outputs
from monitor.engine.captures import parse_lines, partition_hours, read_files

T0 = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)
SCHEMA = [
    {"name": "age", "kind": "numeric", "dtype": "float64"},
    {"name": "plan", "kind": "categorical", "dtype": "object"},
    {"name": "spend", "kind": "numeric", "dtype": "float64"},
]
CLASSES = ["stay", "churn"]


def event(
    input_type: str,
    body: bytes | str,
    output_type: str,
    answer: bytes | str,
    *,
    minutes: float = 0.0,
    status: int = 200,
    shadow: bool = False,
    event_id: str | None = None,
    inference_id: str | None = None,
    variant: str = "A",
) -> Event:
    return Event(
        event_id=event_id or new_event_id(),
        time=T0 + timedelta(minutes=minutes),
        endpoint="churn",
        variant=variant,
        status=status,
        latency_ms=0.8,
        input_type=input_type,
        input_data=body.encode() if isinstance(body, str) else body,
        output_type=output_type,
        output_data=answer.encode() if isinstance(answer, str) else answer,
        shadow=shadow,
        inference_id=inference_id,
    )


def line(*args: Any, **kwargs: Any) -> str:
    return event(*args, **kwargs).line()


def classifier_answer(probabilities: list[list[float]], labels: list[Any] = CLASSES) -> bytes:
    """A classifier's JSON answer exactly as an endpoint writes it."""
    proba = np.asarray(probabilities, dtype=np.float64)
    best = proba.argmax(axis=1)
    return Outputs(
        {
            "predicted_label": np.asarray(labels, dtype=object)[best],
            "probability": proba[np.arange(len(best)), best],
            "probabilities": proba,
        },
        "predicted_label",
        labels,
    ).json()


def parse(lines: list[str], **kwargs: Any) -> Any:
    kwargs.setdefault("input_schema", SCHEMA)
    kwargs.setdefault("classes", CLASSES)
    kwargs.setdefault("problem_type", "binary_classification")
    return parse_lines(lines, **kwargs)


def test_a_multi_row_csv_request_gives_one_row_per_input_row():
    captured = parse(
        [
            line(
                CSV,
                "34,basic,12.5\n51,pro,\n",
                CSV,
                "stay\nchurn\n",
                event_id="e1",
                inference_id="inv-7",
            )
        ]
    )
    assert len(captured) == 2 and captured.skipped == 0
    assert captured.inputs["age"].tolist() == [34.0, 51.0]
    assert captured.inputs["age"].dtype == np.float64
    assert captured.inputs["plan"].dtype == object
    assert captured.inputs["plan"].tolist() == ["basic", "pro"]
    assert captured.inputs["spend"].iloc[0] == 12.5 and np.isnan(captured.inputs["spend"].iloc[1])
    assert captured.outputs["predicted_label"].tolist() == ["stay", "churn"]
    # A CSV answer has no probabilities: the column is there, and unknown.
    assert captured.outputs["probability"].isna().all()
    assert not any(c.startswith("probability_") for c in captured.outputs.columns)
    meta = captured.meta
    assert meta["event_id"].tolist() == ["e1", "e1"] and meta["row"].tolist() == [0, 1]
    assert meta["inference_id"].tolist() == ["inv-7", "inv-7"]
    assert meta["variant"].tolist() == ["A", "A"]
    assert str(meta["time"].dt.tz) == "UTC"
    assert meta["time"].iloc[0] == pd.Timestamp(T0)


def test_json_answers_give_the_label_its_probability_and_one_column_per_class():
    body = json.dumps({"instances": [[40, "pro", 3.0], [22, "basic", None]]})
    captured = parse([line(JSON, body, JSON, classifier_answer([[0.2, 0.8], [0.9, 0.1]]))])
    out = captured.outputs
    assert list(out.columns) == [
        "predicted_label",
        "probability",
        "probability_stay",
        "probability_churn",
    ]
    assert out["predicted_label"].tolist() == ["churn", "stay"]
    np.testing.assert_allclose(out["probability"], [0.8, 0.9])
    np.testing.assert_allclose(out["probability_churn"], [0.8, 0.1])
    assert out["probability_stay"].dtype == np.float64
    assert captured.inputs["spend"].tolist()[0] == 3.0 and np.isnan(captured.inputs["spend"][1])


def test_csv_labels_are_read_back_as_the_classes_they_name():
    captured = parse(
        [line(CSV, "1,a,2\n3,b,4\n", CSV, "1\n0\n")], classes=[0, 1], problem_type=None
    )
    assert captured.outputs["predicted_label"].tolist() == [1, 0]


def test_json_object_instances_keep_extra_keys_as_extra_columns():
    rows = [
        {"age": 30, "plan": "pro", "spend": 1.5, "coupon": "X1"},
        {"age": 31, "plan": "basic"},
    ]
    captured = parse(
        [line(JSON, json.dumps({"instances": rows}), CSV, "stay\nstay\n")],
    )
    assert list(captured.inputs.columns) == ["age", "plan", "spend", "coupon"]
    assert captured.inputs["coupon"].tolist() == ["X1", None]
    assert np.isnan(captured.inputs["spend"].iloc[1])
    assert captured.inputs["spend"].dtype == np.float64


def test_an_extra_column_first_seen_in_a_later_request_has_gaps_before_it():
    first = line(JSON, json.dumps({"instances": [[1, "a", 2]]}), CSV, "stay\n")
    second = line(
        JSON,
        json.dumps({"instances": [{"age": 2, "plan": "b", "spend": 3, "visits": 4}]}),
        CSV,
        "churn\n",
    )
    captured = parse([first, second])
    assert captured.inputs["visits"].dtype == np.float64
    assert np.isnan(captured.inputs["visits"].iloc[0]) and captured.inputs["visits"].iloc[1] == 4


def test_a_word_in_a_numeric_column_is_kept_as_its_raw_text():
    captured = parse(
        [
            line(CSV, "34,basic,12.5\nforty,pro,3\n,pro,4\n", CSV, "stay\nstay\nchurn\n"),
            line(JSON, json.dumps({"instances": [["41", "pro", 1]]}), CSV, "stay\n"),
        ]
    )
    age = captured.inputs["age"]
    assert age.dtype == object
    assert age.iloc[0] == 34.0 and age.iloc[1] == "forty"
    assert isinstance(age.iloc[2], float) and np.isnan(age.iloc[2])
    assert age.iloc[3] == 41.0  # numeric text in JSON reads as a number, as the endpoint does
    # The column that parsed everywhere stays float64.
    assert captured.inputs["spend"].dtype == np.float64
    assert sum(isinstance(v, str) for v in age) == 1


def test_unreadable_lines_are_counted_and_never_fatal():
    good = line(CSV, "1,a,2\n", CSV, "stay\n", event_id="good")
    lines = [
        good,
        line(CSV, "1,a,2\n", JSON, '{"error": {"code": "invalid_payload"}}', status=400),
        line(CSV, "1,a,2\n", CSV, "stay\n", shadow=True),
        '{"event_id": "broken", "time": ',
        "not json at all",
        line(CSV, "1,a,2\n2,b,3\n", CSV, "stay\n"),  # two rows, one prediction
        line(JSON, "{not json", JSON, '{"predictions": ["stay"]}'),
        line("image/png", b"\x89PNG", JSON, '{"predictions": ["stay"]}'),
        "",
    ]
    captured = parse(lines)
    assert captured.meta["event_id"].tolist() == ["good"]
    assert captured.skipped == 6
    assert captured.shadow_skipped == 1


def test_a_row_of_the_wrong_width_is_dropped_alone_and_counted():
    captured = parse([line(CSV, "1,a,2\n1,a\n3,c,4,5\n6,d,7\n", CSV, "stay\nstay\nchurn\nstay\n")])
    assert captured.skipped == 2
    # The kept rows keep their place in the request, the key ground truth uses.
    assert captured.meta["row"].tolist() == [0, 3]
    assert captured.inputs["age"].tolist() == [1.0, 6.0]
    assert captured.outputs["predicted_label"].tolist() == ["stay", "stay"]


def test_base64_bodies_are_decoded():
    csv_line = json.loads(line(CSV, "5,pro,6\n", CSV, "churn\n", event_id="b64"))
    csv_line["input"] = {
        "content_type": CSV,
        "encoding": "BASE64",
        "data": base64.b64encode(b"5,pro,6\n").decode(),
    }
    # A request sent with no Content-Type is captured as base64 octet-stream; it was JSON.
    untyped = line("", json.dumps({"instances": [[7, "basic", 8]]}), CSV, "stay\n")
    assert json.loads(untyped)["input"]["encoding"] == "BASE64"
    captured = parse([json.dumps(csv_line), untyped])
    assert captured.skipped == 0
    assert captured.inputs["age"].tolist() == [5.0, 7.0]
    assert captured.outputs["predicted_label"].tolist() == ["churn", "stay"]


def test_events_outside_the_window_are_dropped_without_being_counted():
    lines = [
        line(CSV, "1,a,2\n", CSV, "stay\n", minutes=-1, event_id="before"),
        line(CSV, "1,a,2\n", CSV, "stay\n", minutes=0, event_id="first"),
        line(CSV, "1,a,2\n", CSV, "stay\n", minutes=59.9, event_id="last"),
        line(CSV, "1,a,2\n", CSV, "stay\n", minutes=60, event_id="end"),
    ]
    captured = parse(lines, start=T0, end=T0 + timedelta(hours=1))
    assert captured.meta["event_id"].tolist() == ["first", "last"]
    assert captured.skipped == 0
    # A naive window is UTC.
    naive = parse(lines, start=T0.replace(tzinfo=None), end=T0.replace(tzinfo=None))
    assert len(naive) == 0


def test_regression_answers_are_numbers():
    captured = parse(
        [
            line(CSV, "1,a,2\n3,b,4\n", CSV, "1.5\n-2.25\n"),
            line(CSV, "5,c,6\n", JSON, '{"predictions":[7.0]}'),
        ],
        classes=None,
        problem_type="regression",
    )
    assert list(captured.outputs.columns) == ["prediction"]
    assert captured.outputs["prediction"].dtype == np.float64
    assert captured.outputs["prediction"].tolist() == [1.5, -2.25, 7.0]


def test_v2_requests_and_answers_are_read():
    request = {
        "inputs": [
            {"name": "x", "shape": [2, 3], "datatype": "BYTES", "data": [1, "a", 2, 3, "b", 4]}
        ]
    }
    answer = Outputs(
        {
            "predicted_label": np.asarray(["churn", "stay"], dtype=object),
            "probability": np.asarray([0.7, 0.6]),
            "probabilities": np.asarray([[0.3, 0.7], [0.6, 0.4]]),
        },
        "predicted_label",
        CLASSES,
    ).v2("churn", "1", None)
    captured = parse([line(JSON, json.dumps(request), JSON, answer)])
    assert captured.skipped == 0
    assert captured.inputs["plan"].tolist() == ["a", "b"]
    assert captured.outputs["predicted_label"].tolist() == ["churn", "stay"]
    np.testing.assert_allclose(captured.outputs["probability_churn"], [0.7, 0.4])


def test_probability_is_the_largest_class_probability_when_the_answer_omits_it():
    answer = json.dumps(
        {
            "predictions": [{"predicted_label": "a", "probabilities": [0.5, 0.3, 0.2]}],
            "labels": ["a", "b", "c"],
        }
    )
    captured = parse(
        [line(CSV, "1,a,2\n", JSON, answer)], classes=None, problem_type="multiclass_classification"
    )
    assert captured.outputs["probability"].tolist() == [0.5]
    assert captured.outputs["probability_c"].tolist() == [0.2]


def test_max_rows_stops_reading_at_the_cap():
    lines = [line(CSV, "1,a,2\n2,b,3\n3,c,4\n", CSV, "stay\nstay\nstay\n") for _ in range(4)]
    captured = parse(lines, max_rows=5)
    assert len(captured) == 5
    assert captured.meta["row"].tolist() == [0, 1, 2, 0, 1]
    assert len(captured.inputs) == len(captured.outputs) == 5


def test_nothing_captured_gives_empty_frames_with_the_schema_columns():
    captured = parse([])
    assert list(captured.inputs.columns) == ["age", "plan", "spend"]
    assert list(captured.meta.columns) == ["event_id", "row", "time", "variant", "inference_id"]
    assert list(captured.outputs.columns) == ["predicted_label", "probability"]
    assert len(captured) == 0


def test_partition_hours_cover_the_window_in_order():
    start = datetime(2026, 12, 31, 22, 30, tzinfo=UTC)
    assert partition_hours(start, start + timedelta(hours=2)) == [
        "2026/12/31/22",
        "2026/12/31/23",
        "2027/01/01/00",
    ]
    assert partition_hours(start, datetime(2026, 12, 31, 23, 0, tzinfo=UTC)) == ["2026/12/31/22"]
    assert partition_hours(start, start) == []
    # Another zone's clock names the same UTC hours.
    there = datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=1)))
    assert partition_hours(there, there + timedelta(minutes=10)) == ["2026/12/31/22"]


def test_read_files_reads_the_hour_folders_as_one_stream(tmp_path: Path):
    events = [
        event(CSV, f"{i},a,{i}\n", CSV, "stay\n", minutes=40 * i, event_id=f"e{i}")
        for i in range(4)
    ]
    for e in events:
        folder = tmp_path / e.partition()
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "part.jsonl", "a") as handle:
            handle.write(e.line() + "\n")
    start, end = T0, T0 + timedelta(minutes=100)
    root = tmp_path / "data-capture" / "churn" / "A"
    paths = [
        p for hour in partition_hours(start, end) for p in sorted((root / hour).glob("*.jsonl"))
    ]
    captured = read_files(
        paths,
        input_schema=SCHEMA,
        classes=CLASSES,
        problem_type="binary_classification",
        start=start,
        end=end,
        max_rows=10,
    )
    assert captured.meta["event_id"].tolist() == ["e0", "e1", "e2"]
    assert captured.inputs["age"].tolist() == [0.0, 1.0, 2.0]


def test_many_multi_row_requests_keep_every_row_in_order():
    rows_per_request = 20
    rng = np.random.default_rng(0)
    requests = 500
    lines, ages = [], []
    for i in range(requests):
        values = rng.normal(size=(rows_per_request, 2)).round(3)
        ages.extend(values[:, 0].tolist())
        body = "".join(f"{a},p{i % 3},{b}\n" for a, b in values)
        proba = rng.uniform(size=rows_per_request)
        answer = classifier_answer(np.column_stack([1 - proba, proba]).tolist())
        lines.append(line(CSV, body, JSON, answer, minutes=i / 100))
    captured = parse(lines)
    assert len(captured) == requests * rows_per_request and captured.skipped == 0
    assert captured.inputs["age"].dtype == np.float64
    assert captured.inputs["age"].tolist() == ages
    assert captured.meta["row"].tolist() == list(range(rows_per_request)) * requests
