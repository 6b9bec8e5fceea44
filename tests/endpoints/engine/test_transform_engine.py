"""The batch-transform engine on its own (no database): predictions equal the model's own,
in the input's order whatever the batches and instances, with the input columns asked for."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from endpoints.engine.transform import (
    Shard,
    TransformError,
    TransformSpec,
    check_columns,
    check_sizes,
    main,
    plan,
    prediction_columns,
    transform,
)
from tests.endpoints.transform_models import (
    archive,
    failing_archive,
    features,
    table,
    write_parquet,
)
from training.engine.artifact import load, read_metadata


@pytest.fixture
def frame() -> pd.DataFrame:
    return features(table())


def run(tmp_path: Path, frame: pd.DataFrame, model: Path, **options) -> tuple[pd.DataFrame, object]:
    source = write_parquet(frame, tmp_path / "in.parquet", options.pop("row_group_rows", 10_000))
    spec = TransformSpec(input=source, model=model, output=tmp_path / "out.parquet", **options)
    result = transform(spec)
    return pq.read_table(spec.output).to_pandas(), result


def left_behind(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith((".", "out")))


def test_plan_cuts_row_groups_into_contiguous_runs_of_about_equal_rows():
    assert plan([100] * 6, 3) == [
        Shard((0, 1), 0, 200),
        Shard((2, 3), 200, 200),
        Shard((4, 5), 400, 200),
    ]
    # More instances than row groups: one group each; empty groups are nobody's.
    assert plan([10, 0, 10], 4) == [Shard((0,), 0, 10), Shard((2,), 10, 10)]
    assert plan([5], 1) == [Shard((0,), 0, 5)]
    shards = plan([50, 10, 10, 10, 10, 10, 50], 2)
    assert [s.rows for s in shards] == [70, 80]
    assert [g for s in shards for g in s.row_groups] == list(range(7))


def test_a_classifier_scores_every_row_as_the_model_itself_does(tmp_path, frame):
    got, result = run(
        tmp_path,
        frame,
        archive("classifier"),
        batch_rows=37,
        row_group_rows=100,
        join_input=("id", "city"),
    )
    expected = load(archive("classifier")).predict(frame)
    assert list(got.columns) == ["id", "city", *expected.columns]
    assert list(expected.columns) == ["predicted_label", "probability_no", "probability_yes"]
    pd.testing.assert_frame_equal(
        got[list(expected.columns)], expected, check_dtype=False, check_exact=True
    )
    assert got["id"].tolist() == list(range(len(frame)))  # order kept across batches
    assert got["city"].tolist() == frame["city"].tolist()
    assert result.rows == len(frame) and result.instances == 1
    # Batches of 37 rows are gathered into one row group, not sixteen tiny ones.
    assert pq.ParquetFile(tmp_path / "out.parquet").metadata.num_row_groups == 1


def test_a_regressor_scores_with_every_input_column_joined(tmp_path, frame):
    got, _ = run(tmp_path, frame, archive("regressor"), batch_rows=64, join_input=("*",))
    expected = load(archive("regressor")).predict(frame)
    assert list(got.columns) == [*frame.columns, "prediction"]
    assert got["prediction"].tolist() == expected["prediction"].tolist()
    pd.testing.assert_frame_equal(got[list(frame.columns)], frame, check_dtype=False)


def test_without_join_input_only_the_predictions_are_written(tmp_path, frame):
    got, result = run(tmp_path, frame, archive("regressor"))
    assert list(got.columns) == ["prediction"] and len(got) == len(frame)
    assert result.columns == ("prediction",)


def test_several_instances_keep_the_input_order(tmp_path, frame):
    progress: list[int] = []
    source = write_parquet(frame, tmp_path / "in.parquet", 50)  # 12 row groups
    spec = TransformSpec(
        input=source,
        model=archive("classifier"),
        output=tmp_path / "out.parquet",
        batch_rows=30,
        instance_count=3,
        join_input=("id",),
        workdir=tmp_path / "parts",
    )
    result = transform(spec, on_progress=progress.append)
    got = pq.read_table(spec.output).to_pandas()
    expected = load(archive("classifier")).predict(frame)
    assert got["id"].tolist() == list(range(len(frame)))
    pd.testing.assert_frame_equal(got.drop(columns="id"), expected, check_dtype=False)
    assert result.instances == 3 and result.parts == (200, 200, 200)
    assert progress == sorted(progress) and progress[-1] == len(frame)
    assert list((tmp_path / "parts").iterdir()) == []  # parts are removed once joined


def test_a_model_that_fails_names_the_rows_it_failed_on(tmp_path, frame):
    with pytest.raises(TransformError, match=r"The model failed on rows 1–25: AttributeError"):
        run(tmp_path, frame, failing_archive(), batch_rows=25)
    assert left_behind(tmp_path) == []  # no output, not even a partial one


def test_an_instance_whose_model_fails_fails_the_whole_transform(tmp_path, frame):
    with pytest.raises(TransformError, match=r"^Instance \d: The model failed on rows"):
        run(tmp_path, frame, failing_archive(), row_group_rows=300, instance_count=2)
    assert left_behind(tmp_path) == []  # nor parts


def test_an_archive_that_is_not_a_model_cannot_be_loaded(tmp_path, frame):
    junk = tmp_path / "model.tar.gz"
    junk.write_bytes(b"not a tar file")
    with pytest.raises(TransformError, match="could not be loaded") as caught:
        run(tmp_path, frame, junk)
    assert caught.value.field == "model_package"


def test_the_columns_are_checked_before_anything_is_scored():
    metadata = read_metadata(archive("regressor"))
    names = ["id", "x", "y", "city"]
    assert check_columns(metadata, names, ["*"]) == names
    assert check_columns(metadata, names, ["city", "id"]) == ["city", "id"]
    refusals = [
        (["id", "y", "city"], [], "dataset", "no column 'x'"),
        (names, ["nope"], "join_input", "no column 'nope'"),
        (names, ["id", "id"], "join_input", "joined twice"),
        (names, ["*", "id"], "join_input", "give it alone"),
        ([*names, "prediction"], ["prediction"], "join_input", "name of a prediction"),
    ]
    for available, join, field, words in refusals:
        with pytest.raises(TransformError, match=words) as caught:
            check_columns(metadata, available, join)
        assert caught.value.field == field
    with pytest.raises(TransformError, match="whole series") as caught:
        check_columns({**metadata, "problem_type": "forecasting"}, names, [])
    assert caught.value.field == "model_package"


def test_sizes_are_bounded():
    check_sizes(1, 1)
    check_sizes(1_000_000, 16)
    for rows, instances, field in ((0, 1, "batch_rows"), (1, 17, "instance_count")):
        with pytest.raises(TransformError) as caught:
            check_sizes(rows, instances)
        assert caught.value.field == field


def test_prediction_columns_follow_the_problem():
    assert prediction_columns({"problem_type": "binary_classification", "classes": [0, 1]}) == [
        "predicted_label",
        "probability_0",
        "probability_1",
    ]
    assert prediction_columns({"problem_type": "regression"}) == ["prediction"]
    assert prediction_columns({"problem_type": "anomaly_detection"}) == ["score", "is_anomaly"]
    assert prediction_columns({"problem_type": "dimensionality_reduction"}) is None


def test_the_program_reports_progress_and_its_result(tmp_path, frame, capsys):
    source = write_parquet(frame, tmp_path / "in.parquet", 100)
    spec = TransformSpec(
        input=source, model=archive("regressor"), output=tmp_path / "out.parquet", batch_rows=200
    )
    (tmp_path / "spec.json").write_text(json.dumps(spec.to_dict()))
    assert main([str(tmp_path / "spec.json")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["result"]["rows"] == len(frame)
    assert [m["rows_done"] for m in lines if "rows_done" in m][-1] == len(frame)
    assert json.loads((tmp_path / "result.json").read_text())["columns"] == ["prediction"]

    (tmp_path / "bad.json").write_text(json.dumps({**spec.to_dict(), "join_input": ["nope"]}))
    assert main([str(tmp_path / "bad.json")]) == 1
    error = json.loads(capsys.readouterr().out.splitlines()[-1])["error"]
    assert error == {"message": "The dataset has no column 'nope' to join.", "field": "join_input"}
