"""ML preparation: PCA, class balancing (SMOTE included) and train/test splits (no database)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from wrangler.engine.execute import run_flow
from wrangler.engine.graph import parse_flow
from wrangler.engine.registry import get_transform
from wrangler.engine.transforms.ml import balance, pca, train_test_split

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def json_round_trip(state: dict[str, Any]) -> dict[str, Any]:
    """The state as it comes back from storage; fails on NaN or numpy scalars."""
    loaded: dict[str, Any] = json.loads(json.dumps(state, allow_nan=False))
    return loaded


def numbers(rows: int = 40, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=rows)
    return pd.DataFrame(
        {
            "a": a,
            "b": 3 * a + rng.normal(scale=0.1, size=rows),
            "c": rng.normal(scale=10, size=rows),
            "name": [f"row-{i}" for i in range(rows)],
        }
    )


def classes() -> pd.DataFrame:
    """Eight 'non' rows and three 'oui' rows (unicode labels), with a text and an int column."""
    return pd.DataFrame(
        {
            "x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 50.0, 51.0, 60.0],
            "n": [1, 2, 3, 4, 5, 6, 7, 8, 100, 110, 120],
            "note": ["a", "b", "c", "d", "e", "f", "g", "h", "ü", "ß", "東"],
            "label": ["non"] * 8 + ["oui"] * 3,
        }
    )


def counts(df: pd.DataFrame, column: str = "label") -> dict[Any, int]:
    return {k: int(v) for k, v in df[column].value_counts().items()}


# ---------------------------------------------------------------- registration


def test_the_ml_transforms_are_registered_with_their_categories_and_fit_flags() -> None:
    expected = {
        "pca": ("Features", True),
        "balance": ("Sampling", True),  # given a state when applied, so it can pass rows through
        "train_test_split": ("Sampling", False),
    }
    for name, (category, fitted) in expected.items():
        defn = get_transform(name)
        assert defn is not None, name
        assert (defn.category, defn.fitted, defn.rowwise) == (category, fitted, False)


# ---------------------------------------------------------------- pca


def test_pca_matches_scikit_learn_up_to_each_components_sign() -> None:
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    df = numbers()
    out, state = pca(df, columns=["a", "b", "c"], n_components=2)
    standardised = StandardScaler().fit_transform(df[["a", "b", "c"]])
    reference = PCA(n_components=2).fit(standardised)
    expected = reference.transform(standardised)
    for i in range(2):
        got = out[f"pc_{i + 1}"].to_numpy()
        sign = np.sign(got @ expected[:, i])
        assert got == pytest.approx(sign * expected[:, i], abs=1e-9)
    assert state["explained_variance_ratio"] == pytest.approx(
        reference.explained_variance_ratio_.tolist()
    )


def test_pca_replaces_the_columns_by_default_and_can_keep_them() -> None:
    out, _ = pca(numbers(), columns=["a", "b"], n_components=1)
    assert list(out.columns) == ["c", "name", "pc_1"]
    out, _ = pca(numbers(), columns=["a", "b"], n_components=1, drop_original=False, prefix="成分")
    assert list(out.columns) == ["a", "b", "c", "name", "成分_1"]


def test_pca_without_standardising_only_centres() -> None:
    df = numbers()
    _, state = pca(df, columns=["a", "c"], n_components=1, standardise=False)
    assert state["scale"] == [1.0, 1.0]
    # c has by far the largest variance, so it dominates the first component
    assert abs(state["components"][0][1]) > 0.99


def test_pca_components_have_a_positive_largest_weight() -> None:
    _, state = pca(numbers(), columns=["a", "b", "c"], n_components=3)
    for row in state["components"]:
        assert max(row, key=abs) > 0


def test_pca_applies_the_training_centring_scaling_and_components_to_new_data() -> None:
    train, new = numbers(seed=1), numbers(rows=5, seed=2)
    new[["a", "b", "c"]] = new[["a", "b", "c"]] * 7 + 3  # a different distribution
    _, state = pca(train, columns=["a", "b", "c"], n_components=2)
    state = json_round_trip(state)
    out, kept = pca(new, state=state, columns=["a", "b", "c"], n_components=2)
    centred = (new[["a", "b", "c"]].to_numpy() - state["mean"]) / state["scale"]
    expected = centred @ np.array(state["components"]).T
    assert out[["pc_1", "pc_2"]].to_numpy() == pytest.approx(expected)
    assert kept == state


def test_pca_asks_to_fill_missing_values_first() -> None:
    df = numbers()
    df.loc[3, "a"] = None
    with pytest.raises(ValueError, match=r"1 row\(s\) have null.*Fill or drop missing"):
        pca(df, columns=["a", "b"])


def test_pca_names_a_text_column() -> None:
    with pytest.raises(ValueError, match="'name' is not numeric"):
        pca(numbers(), columns=["a", "name"])


@pytest.mark.parametrize("rows", [0, 1])
def test_pca_needs_two_rows_to_learn_from(rows: int) -> None:
    with pytest.raises(ValueError, match=f"at least two rows.*has {rows}"):
        pca(numbers().iloc[:rows], columns=["a", "b"], n_components=1)


def test_pca_refuses_more_components_than_columns() -> None:
    with pytest.raises(ValueError, match="at most 2"):
        pca(numbers(), columns=["a", "b"], n_components=3)


def test_a_fitted_pca_applies_to_an_empty_frame_and_a_single_row() -> None:
    _, state = pca(numbers(), columns=["a", "b"], n_components=2)
    out, _ = pca(numbers().iloc[0:0], state=state, columns=["a", "b"], n_components=2)
    assert list(out.columns) == ["c", "name", "pc_1", "pc_2"] and len(out) == 0
    out, _ = pca(numbers().iloc[:1], state=state, columns=["a", "b"], n_components=2)
    assert out[["pc_1", "pc_2"]].notna().all(axis=None)


def test_pca_of_a_constant_column_does_not_divide_by_zero() -> None:
    df = numbers().assign(k=5.0)
    out, state = pca(df, columns=["a", "k"], n_components=1)
    json_round_trip(state)
    assert np.isfinite(out["pc_1"]).all()


def test_pca_does_not_change_its_input() -> None:
    df = numbers()
    before = df.copy()
    pca(df, columns=["a", "b"])
    pd.testing.assert_frame_equal(df, before)


# ---------------------------------------------------------------- balance


def test_random_oversampling_repeats_minority_rows_up_to_the_majority() -> None:
    df = classes()
    out, state = balance(df, target="label")
    assert counts(out) == {"non": 8, "oui": 8}
    pd.testing.assert_frame_equal(out.iloc[:11], df)  # the originals first, unchanged
    extra = out.iloc[11:]
    assert set(extra["note"]) <= {"ü", "ß", "東"}
    assert json_round_trip(state) == {
        "method": "random_oversample",
        "classes": ["non", "oui"],
        "counts_before": [8, 3],
        "counts_after": [8, 8],
    }


def test_random_undersampling_keeps_the_smallest_class_size_in_the_original_order() -> None:
    out, _ = balance(classes(), target="label", method="random_undersample", seed=4)
    assert counts(out) == {"non": 3, "oui": 3}
    assert out["x"].is_monotonic_increasing
    assert out["note"].tolist()[-3:] == ["ü", "ß", "東"]


def test_smote_balances_with_points_between_real_neighbours() -> None:
    # Two tight pairs of minority rows far apart: with one neighbour, each synthetic row
    # must lie on the segment inside one pair, and take its text from that pair.
    df = pd.DataFrame(
        {
            "x": [0.0, 1.0, 100.0, 101.0, *np.linspace(40, 60, 12)],
            "y": [0.0, 2.0, 100.0, 102.0, *np.linspace(-60, -40, 12)],
            "tag": ["low", "low", "high", "high"] + ["maj"] * 12,
            "label": [1] * 4 + [0] * 12,
        }
    )
    out, state = balance(df, target="label", method="smote", k_neighbors=1, seed=7)
    assert counts(out) == {0: 12, 1: 12}
    assert state["counts_after"] == [12, 12]
    made = out.iloc[len(df) :]
    assert len(made) == 8 and (made["label"] == 1).all()
    for _, row in made.iterrows():
        low = 0 <= row["x"] <= 1 and row["y"] == pytest.approx(2 * row["x"])
        high = 100 <= row["x"] <= 101 and row["y"] == pytest.approx(2 * row["x"] - 100)
        assert low or high, row.to_dict()
        assert row["tag"] == ("low" if low else "high")


def test_smote_points_lie_on_segments_between_same_class_rows() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "a": rng.normal(size=30),
            "b": rng.normal(size=30),
            "label": ["rare"] * 6 + ["common"] * 24,
        }
    )
    out, _ = balance(df, target="label", method="smote", k_neighbors=3)
    assert counts(out) == {"rare": 24, "common": 24}
    rare = df.loc[df["label"] == "rare", ["a", "b"]].to_numpy()
    for point in out.iloc[len(df) :][["a", "b"]].to_numpy():
        gaps = [
            np.linalg.norm(p - point) + np.linalg.norm(point - q) - np.linalg.norm(p - q)
            for p in rare
            for q in rare
        ]
        assert min(gaps) == pytest.approx(0.0, abs=1e-9)


def test_smote_keeps_whole_number_columns_whole_and_copies_text_from_the_base_row() -> None:
    out, _ = balance(classes(), target="label", method="smote", k_neighbors=2)
    assert out["n"].dtype == "int64"
    made = out.iloc[11:]
    assert made["n"].between(100, 120).all()
    assert made["x"].between(50, 60).all()
    assert set(made["note"]) <= {"ü", "ß", "東"}


def test_smote_copies_a_class_of_one_row() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 9.0], "label": ["a", "a", "a", "b"]})
    out, _ = balance(df, target="label", method="smote")
    assert out.loc[out["label"] == "b", "x"].tolist() == [9.0, 9.0, 9.0]


def test_smote_asks_to_fill_missing_values_in_the_rows_it_interpolates() -> None:
    df = classes()
    df.loc[9, "x"] = None
    with pytest.raises(ValueError, match="Fill or drop missing values first"):
        balance(df, target="label", method="smote")


def test_smote_needs_a_numeric_feature() -> None:
    df = classes()[["note", "label"]]
    with pytest.raises(ValueError, match="SMOTE needs numeric feature columns"):
        balance(df, target="label", method="smote")


@pytest.mark.parametrize("method", ["random_oversample", "random_undersample", "smote"])
def test_the_same_seed_gives_the_same_rows(method: str) -> None:
    first, _ = balance(classes(), target="label", method=method, seed=3)
    again, _ = balance(classes(), target="label", method=method, seed=3)
    pd.testing.assert_frame_equal(first, again)


@pytest.mark.parametrize("method", ["random_oversample", "random_undersample", "smote"])
def test_balance_does_not_change_its_input(method: str) -> None:
    df = classes()
    before = df.copy()
    balance(df, target="label", method=method)
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("rows", [0, 1])
def test_balancing_fewer_than_two_classes_is_refused(rows: int) -> None:
    with pytest.raises(ValueError, match="needs at least two"):
        balance(classes().iloc[:rows], target="label")


def test_rows_without_a_class_are_kept_and_not_counted() -> None:
    df = classes()
    df.loc[0, "label"] = None
    out, state = balance(df, target="label", method="random_undersample")
    assert state["counts_before"] == [7, 3]
    assert out["label"].isna().sum() == 1


def test_applying_a_fitted_balance_passes_new_rows_through() -> None:
    _, state = balance(classes(), target="label", method="smote")
    new = classes().iloc[:4]
    out, kept = balance(new, state=json_round_trip(state), target="label", method="smote")
    pd.testing.assert_frame_equal(out, new)
    assert kept == json_round_trip(state)


def test_a_fitted_flow_balances_training_data_but_not_new_data() -> None:
    graph = parse_flow(
        {
            "nodes": [
                {"id": "src", "type": "source", "params": {"dataset": 1}},
                {"id": "bal", "type": "balance", "params": {"target": "label"}},
            ],
            "edges": [["src", "bal"]],
        }
    )
    train = classes()
    fitted, states = run_flow(graph, "bal", load_source=lambda node: train)
    assert counts(fitted) == {"non": 8, "oui": 8}
    new = classes().iloc[5:9]
    applied, _ = run_flow(
        graph, "bal", load_source=lambda node: new, states=json_round_trip(states)
    )
    pd.testing.assert_frame_equal(applied, new)


# ---------------------------------------------------------------- train_test_split


def test_both_marks_every_row_train_or_test_in_the_asked_share() -> None:
    df = numbers(rows=50)
    out, state = train_test_split(df, test_size=0.2)
    assert state == {}
    assert out["split"].value_counts().to_dict() == {"train": 40, "test": 10}
    pd.testing.assert_frame_equal(out.drop(columns="split"), df)


def test_train_and_test_nodes_with_the_same_seed_get_complementary_parts() -> None:
    df = numbers(rows=50)
    train, _ = train_test_split(df, part="train", seed=11)
    test, _ = train_test_split(df, part="test", seed=11)
    assert len(train) == 40 and len(test) == 10
    assert sorted([*train["name"], *test["name"]]) == sorted(df["name"])
    marked, _ = train_test_split(df, part="both", seed=11)
    assert marked.loc[marked["split"] == "test", "name"].tolist() == test["name"].tolist()


def test_a_part_keeps_the_rows_original_order() -> None:
    df = numbers(rows=30)
    train, _ = train_test_split(df, part="train")
    positions = [int(n.split("-")[1]) for n in train["name"]]
    assert positions == sorted(positions)
    assert train.index.tolist() == list(range(len(train)))


def test_another_seed_gives_another_split() -> None:
    df = numbers(rows=50)
    first, _ = train_test_split(df, seed=1)
    second, _ = train_test_split(df, seed=2)
    assert not first["split"].equals(second["split"])


def test_stratifying_keeps_each_class_share_in_both_parts() -> None:
    df = pd.DataFrame({"v": range(100), "classe": ["été"] * 80 + ["hiver"] * 10 + [None] * 10})
    out, _ = train_test_split(df, test_size=0.3, stratify="classe")
    test = out[out["split"] == "test"]
    assert test["classe"].value_counts(dropna=False).to_dict() == {"été": 24, "hiver": 3, np.nan: 3}


def test_splitting_an_empty_frame_gives_empty_parts() -> None:
    empty = numbers().iloc[0:0]
    out, _ = train_test_split(empty)
    assert len(out) == 0 and "split" in out.columns
    out, _ = train_test_split(empty, part="test", stratify="name")
    assert len(out) == 0


def test_a_single_row_goes_to_the_training_part() -> None:
    out, _ = train_test_split(numbers().iloc[:1])
    assert out["split"].tolist() == ["train"]


def test_a_split_column_already_there_is_not_overwritten() -> None:
    with pytest.raises(ValueError, match="already has a 'split' column"):
        train_test_split(numbers().assign(split=1))


@pytest.mark.parametrize("size", [0.0, 1.0])
def test_test_size_must_be_strictly_between_zero_and_one(size: float) -> None:
    with pytest.raises(ValueError, match="test_size must be between 0 and 1"):
        train_test_split(numbers(), test_size=size)


def test_train_test_split_does_not_change_its_input() -> None:
    df = numbers()
    before = df.copy()
    train_test_split(df, part="both")
    train_test_split(df, part="test")
    pd.testing.assert_frame_equal(df, before)
