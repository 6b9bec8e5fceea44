"""Numeric transforms: scalers, logs, power transforms, binning and clipping (no database)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from wrangler.engine.params import check_params
from wrangler.engine.registry import get_transform
from wrangler.engine.transforms.numeric import (
    bin_values,
    clip_outliers,
    log_transform,
    min_max_scale,
    power_transform,
    robust_scale,
    standard_scale,
)

# numpy's RuntimeWarnings (division by zero, empty means) must never escape.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

FITTED = [standard_scale, min_max_scale, robust_scale, power_transform, bin_values, clip_outliers]
ALL = [*FITTED, log_transform]


def json_round_trip(state: dict[str, Any]) -> dict[str, Any]:
    """The state as it comes back from storage; fails on NaN or numpy scalars."""
    loaded: dict[str, Any] = json.loads(json.dumps(state, allow_nan=False))
    return loaded


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, None, 10.0],
            "n": pd.array([1, 2, None, 4, 5], dtype="Int64"),
            "label": ["a", "b", "c", "d", "é"],
        }
    )


# ---------------------------------------------------------------- registration


def test_every_numeric_transform_is_registered_with_its_category_and_fit_flag() -> None:
    expected = {
        "standard_scale": ("Scale", True),
        "min_max_scale": ("Scale", True),
        "robust_scale": ("Scale", True),
        "log_transform": ("Transform", False),
        "power_transform": ("Transform", True),
        "bin": ("Transform", True),
        "clip_outliers": ("Transform", True),
    }
    for name, (category, fitted) in expected.items():
        defn = get_transform(name)
        assert defn is not None, name
        # Only the stateless log transform works row by row as it is.
        rowwise = name == "log_transform"
        assert (defn.category, defn.fitted, defn.rowwise) == (category, fitted, rowwise)
        params = check_params(defn, {"columns": ["x"]})
        assert params["columns"] == ["x"]


def test_clip_outliers_and_bin_defaults_are_filled_in_by_the_param_check() -> None:
    clip = get_transform("clip_outliers")
    binning = get_transform("bin")
    assert clip is not None and binning is not None
    assert check_params(clip, {"columns": ["x"]})["lower_quantile"] == 0.01
    assert check_params(binning, {"columns": ["x"]})["bins"] == 5


# ---------------------------------------------------------------- shared behaviour


@pytest.mark.parametrize("func", ALL, ids=lambda f: f.__name__)
def test_a_text_column_is_refused_with_its_name(func: Any) -> None:
    with pytest.raises(ValueError, match="'label' is not numeric"):
        func(frame(), columns=["label"])


@pytest.mark.parametrize("func", ALL, ids=lambda f: f.__name__)
def test_a_text_column_is_refused_when_applying_a_state_too(func: Any) -> None:
    _, state = func(frame(), columns=["x"])
    bad = pd.DataFrame({"x": ["1", "2"]})
    with pytest.raises(ValueError, match="'x' is not numeric"):
        func(bad, state=json_round_trip(state), columns=["x"])


@pytest.mark.parametrize("func", FITTED, ids=lambda f: f.__name__)
def test_fitting_on_an_empty_frame_says_there_is_nothing_to_learn(func: Any) -> None:
    empty = pd.DataFrame({"x": pd.Series([], dtype="float64")})
    with pytest.raises(ValueError, match="'x' has no values to learn from"):
        func(empty, columns=["x"])


@pytest.mark.parametrize("func", FITTED, ids=lambda f: f.__name__)
def test_fitting_on_an_all_null_column_says_there_is_nothing_to_learn(func: Any) -> None:
    nulls = pd.DataFrame({"x": [None, None]}, dtype="float64")
    with pytest.raises(ValueError, match="no values to learn from"):
        func(nulls, columns=["x"])


@pytest.mark.parametrize("func", FITTED, ids=lambda f: f.__name__)
def test_a_fitted_state_applies_to_an_empty_frame(func: Any) -> None:
    _, state = func(frame(), columns=["x"])
    empty = pd.DataFrame({"x": pd.Series([], dtype="float64")})
    out, _ = func(empty, state=json_round_trip(state), columns=["x"])
    assert len(out) == 0


def test_log_transform_of_an_empty_frame_is_empty() -> None:
    empty = pd.DataFrame({"x": pd.Series([], dtype="float64")})
    out, state = log_transform(empty, columns=["x"])
    assert len(out) == 0 and state == {}


@pytest.mark.parametrize("func", ALL, ids=lambda f: f.__name__)
def test_nulls_stay_null_and_other_rows_keep_their_order(func: Any) -> None:
    df = frame()
    out, _ = func(df, columns=["x", "n"])
    target = "x_bin" if func is bin_values else "x"
    assert out[target].isna().tolist() == [False, False, False, True, False]
    assert out["n_bin" if func is bin_values else "n"].isna().tolist() == [
        False,
        False,
        True,
        False,
        False,
    ]
    assert out["label"].tolist() == df["label"].tolist()


@pytest.mark.parametrize("func", ALL, ids=lambda f: f.__name__)
def test_the_input_frame_is_not_changed(func: Any) -> None:
    df = frame()
    before = df.copy()
    func(df, columns=["x", "n"])
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("func", ALL, ids=lambda f: f.__name__)
def test_a_single_row_gives_finite_values(func: Any) -> None:
    one = pd.DataFrame({"x": [4.0]})
    out, state = func(one, columns=["x"])
    json_round_trip(state)
    column = "x_bin" if func is bin_values else "x"
    assert out[column].notna().all()


@pytest.mark.parametrize("func", FITTED, ids=lambda f: f.__name__)
def test_the_state_is_json_safe_and_applying_it_gives_the_same_result(func: Any) -> None:
    df = frame()
    fitted, state = func(df, columns=["x", "n"])
    applied, kept = func(df, state=json_round_trip(state), columns=["x", "n"])
    pd.testing.assert_frame_equal(fitted, applied)
    assert kept == json_round_trip(state)


@pytest.mark.parametrize("func", FITTED, ids=lambda f: f.__name__)
def test_a_column_missing_from_the_state_asks_for_a_new_fit(func: Any) -> None:
    _, state = func(frame(), columns=["x"])
    with pytest.raises(ValueError, match="fit the flow again"):
        func(frame(), state=state, columns=["n"])


def test_unicode_column_names_are_named_in_errors() -> None:
    df = pd.DataFrame({"température": ["chaud", "froid"]})
    with pytest.raises(ValueError, match="'température' is not numeric"):
        standard_scale(df, columns=["température"])


# ---------------------------------------------------------------- standard_scale


def test_standard_scale_centres_on_the_mean_and_divides_by_the_population_std() -> None:
    out, state = standard_scale(frame(), columns=["x"])
    values = np.array([1.0, 2.0, 3.0, 10.0])
    assert state["columns"]["x"] == pytest.approx({"mean": values.mean(), "scale": values.std()})
    assert out["x"].dropna().mean() == pytest.approx(0.0)
    assert out["x"].dropna().std(ddof=0) == pytest.approx(1.0)
    assert out["x"].dtype == "float64"


def test_standard_scale_applies_the_training_mean_and_std_to_new_data() -> None:
    train = pd.DataFrame({"x": [0.0, 10.0]})  # mean 5, std 5
    _, state = standard_scale(train, columns=["x"])
    new = pd.DataFrame({"x": [100.0, 5.0, None]})
    out, _ = standard_scale(new, state=json_round_trip(state), columns=["x"])
    assert out["x"].tolist()[:2] == [19.0, 0.0]
    assert pd.isna(out["x"].iloc[2])


def test_standard_scale_of_a_constant_column_divides_by_one() -> None:
    out, state = standard_scale(pd.DataFrame({"x": [7, 7, 7]}), columns=["x"])
    assert state["columns"]["x"]["scale"] == 1.0
    assert out["x"].tolist() == [0.0, 0.0, 0.0]


def test_standard_scale_accepts_booleans_as_zero_and_one() -> None:
    out, state = standard_scale(pd.DataFrame({"b": [True, False]}), columns=["b"])
    assert state["columns"]["b"]["mean"] == 0.5
    assert out["b"].tolist() == [1.0, -1.0]


# ---------------------------------------------------------------- min_max_scale


def test_min_max_scale_maps_the_learnt_range_onto_the_chosen_one() -> None:
    out, state = min_max_scale(frame(), columns=["x"], min=-1.0, max=1.0)
    assert state["columns"]["x"] == {"min": 1.0, "range": 9.0}
    assert out["x"].dropna().tolist() == pytest.approx([-1.0, -1 + 2 / 9, -1 + 4 / 9, 1.0])


def test_min_max_scale_uses_the_training_range_so_new_values_may_fall_outside() -> None:
    _, state = min_max_scale(pd.DataFrame({"x": [0.0, 10.0]}), columns=["x"])
    out, _ = min_max_scale(
        pd.DataFrame({"x": [20.0, -10.0]}), state=json_round_trip(state), columns=["x"]
    )
    assert out["x"].tolist() == [2.0, -1.0]


def test_min_max_scale_maps_a_constant_column_to_the_minimum() -> None:
    out, _ = min_max_scale(pd.DataFrame({"x": [3.0, 3.0]}), columns=["x"], min=5.0, max=6.0)
    assert out["x"].tolist() == [5.0, 5.0]


def test_min_max_scale_refuses_a_range_whose_min_is_not_below_its_max() -> None:
    with pytest.raises(ValueError, match="must be below max"):
        min_max_scale(frame(), columns=["x"], min=1.0, max=1.0)


# ---------------------------------------------------------------- robust_scale


def test_robust_scale_uses_the_median_and_the_interquartile_range() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 1000.0]})
    out, state = robust_scale(df, columns=["x"])
    assert state["columns"]["x"] == {"center": 3.0, "scale": 2.0}
    assert out["x"].tolist() == [-1.0, -0.5, 0.0, 0.5, 498.5]


def test_robust_scale_applies_the_training_median_and_iqr() -> None:
    _, state = robust_scale(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0]}), columns=["x"])
    out, _ = robust_scale(pd.DataFrame({"x": [100.0]}), state=json_round_trip(state), columns=["x"])
    assert out["x"].tolist() == [48.5]


def test_robust_scale_of_a_column_without_spread_divides_by_one() -> None:
    out, state = robust_scale(pd.DataFrame({"x": [2.0, 2.0, 2.0, 2.0, 9.0]}), columns=["x"])
    assert state["columns"]["x"]["scale"] == 1.0
    assert out["x"].tolist() == [0.0, 0.0, 0.0, 0.0, 7.0]


# ---------------------------------------------------------------- log_transform


@pytest.mark.parametrize(
    ("method", "expected"),
    [("log", np.log([1.0, 10.0])), ("log1p", np.log1p([1.0, 10.0])), ("log10", [0.0, 1.0])],
)
def test_log_transform_applies_the_chosen_logarithm(method: str, expected: Any) -> None:
    out, state = log_transform(pd.DataFrame({"x": [1, 10]}), columns=["x"], method=method)
    assert out["x"].tolist() == pytest.approx(list(expected))
    assert state == {}


@pytest.mark.parametrize("method", ["log", "log10"])
def test_log_of_zero_or_negatives_names_the_column_the_count_and_log1p(method: str) -> None:
    df = pd.DataFrame({"amount": [0.0, -1.0, 5.0, None]})
    with pytest.raises(ValueError, match=r"'amount' has 2 zero or negative.*log1p"):
        log_transform(df, columns=["amount"], method=method)


def test_log1p_takes_zeros_but_not_minus_one() -> None:
    out, _ = log_transform(pd.DataFrame({"x": [0.0, 3.0]}), columns=["x"], method="log1p")
    assert out["x"].tolist() == pytest.approx([0.0, np.log(4.0)])
    with pytest.raises(ValueError, match="'x' has 1 value"):
        log_transform(pd.DataFrame({"x": [-1.0, 3.0]}), columns=["x"], method="log1p")


# ---------------------------------------------------------------- power_transform


@pytest.mark.parametrize("method", ["yeo-johnson", "box-cox"])
def test_power_transform_matches_scikit_learn_on_new_data_without_refitting(method: str) -> None:
    from sklearn.preprocessing import PowerTransformer

    rng = np.random.default_rng(3)
    train = pd.DataFrame({"x": rng.lognormal(size=200)})
    new = pd.DataFrame({"x": rng.lognormal(mean=1.0, size=50)})
    reference = PowerTransformer(method=method).fit(train[["x"]].to_numpy())
    _, state = power_transform(train, columns=["x"], method=method)
    state = json_round_trip(state)
    assert state["columns"]["x"]["lambda"] == pytest.approx(reference.lambdas_[0], rel=1e-6)
    out, _ = power_transform(new, state=state, columns=["x"], method=method)
    expected = reference.transform(new[["x"]].to_numpy())[:, 0]
    assert out["x"].to_numpy() == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_yeo_johnson_takes_negative_values_and_standardises() -> None:
    df = pd.DataFrame({"x": [-5.0, -1.0, 0.0, 2.0, 30.0, None]})
    out, _ = power_transform(df, columns=["x"])
    assert out["x"].dropna().mean() == pytest.approx(0.0, abs=1e-9)
    assert out["x"].dropna().std(ddof=0) == pytest.approx(1.0)


def test_box_cox_refuses_zero_or_negative_values_when_fitting_and_applying() -> None:
    with pytest.raises(ValueError, match=r"'x' has 1 zero or negative.*yeo-johnson"):
        power_transform(pd.DataFrame({"x": [0.0, 1.0, 2.0]}), columns=["x"], method="box-cox")
    _, state = power_transform(
        pd.DataFrame({"x": [1.0, 2.0, 5.0]}), columns=["x"], method="box-cox"
    )
    with pytest.raises(ValueError, match="'x' has 1 zero or negative"):
        power_transform(pd.DataFrame({"x": [-3.0]}), state=state, columns=["x"], method="box-cox")


def test_power_transform_of_a_constant_column_keeps_lambda_one_and_gives_zeros() -> None:
    out, state = power_transform(pd.DataFrame({"x": [4.0, 4.0]}), columns=["x"], method="box-cox")
    assert state["columns"]["x"]["lambda"] == 1.0
    assert out["x"].tolist() == [0.0, 0.0]


# ---------------------------------------------------------------- bin


def test_equal_width_bins_label_their_ranges_and_keep_the_original() -> None:
    df = pd.DataFrame({"x": [0.0, 2.5, 5.0, 9.9, 10.0, None]})
    out, state = bin_values(df, columns=["x"], bins=4)
    assert state["columns"]["x"]["edges"] == [0.0, 2.5, 5.0, 7.5, 10.0]
    assert out["x"].equals(df["x"])
    assert out["x_bin"].tolist()[:5] == [
        "[0, 2.5)",
        "[2.5, 5)",
        "[5, 7.5)",
        "[7.5, 10]",
        "[7.5, 10]",
    ]
    assert pd.isna(out["x_bin"].iloc[5])


def test_ordinal_bin_labels_are_whole_numbers_from_zero_with_nulls() -> None:
    df = pd.DataFrame({"x": [0.0, 2.5, 10.0, None]})
    out, _ = bin_values(df, columns=["x"], bins=4, labels="ordinal")
    assert out["x_bin"].dtype == "Int64"
    assert out["x_bin"].tolist() == [0, 1, 3, pd.NA]


def test_quantile_bins_hold_about_as_many_rows_each() -> None:
    df = pd.DataFrame({"x": np.arange(100, dtype="float64") ** 2})
    out, _ = bin_values(df, columns=["x"], strategy="quantile", bins=4, labels="ordinal")
    assert out["x_bin"].value_counts().sort_index().tolist() == [25, 25, 25, 25]


def test_quantile_bins_merge_repeated_edges() -> None:
    df = pd.DataFrame({"x": [1.0] * 8 + [2.0, 3.0]})
    _, state = bin_values(df, columns=["x"], strategy="quantile", bins=5)
    edges = state["columns"]["x"]["edges"]
    assert edges == sorted(set(edges))


def test_new_values_beyond_the_learnt_edges_go_to_the_first_or_last_bin() -> None:
    _, state = bin_values(pd.DataFrame({"x": [0.0, 10.0]}), columns=["x"], bins=2, labels="ordinal")
    new = pd.DataFrame({"x": [-100.0, 4.0, 6.0, 100.0]})
    out, _ = bin_values(new, state=json_round_trip(state), columns=["x"], bins=2, labels="ordinal")
    assert out["x_bin"].tolist() == [0, 0, 1, 1]


def test_a_constant_column_makes_one_bin() -> None:
    out, state = bin_values(pd.DataFrame({"x": [3.0, 3.0]}), columns=["x"])
    assert state["columns"]["x"]["edges"] == [3.0, 3.0]
    assert out["x_bin"].tolist() == ["[3, 3]", "[3, 3]"]


# ---------------------------------------------------------------- clip_outliers


def test_iqr_clipping_uses_the_fences_one_and_a_half_iqrs_out_by_default() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 100.0, None]})
    out, state = clip_outliers(df, columns=["x"])
    # q1 = 2.25, q3 = 4.75, IQR 2.5: fences at -1.5 and 8.5
    assert state["columns"]["x"] == {"lower": -1.5, "upper": 8.5}
    assert out["x"].tolist()[:6] == [1.0, 2.0, 3.0, 4.0, 5.0, 8.5]
    assert pd.isna(out["x"].iloc[6])


def test_std_clipping_defaults_to_three_standard_deviations() -> None:
    df = pd.DataFrame({"x": [0.0, 10.0]})  # mean 5, std 5
    _, state = clip_outliers(df, columns=["x"], method="std")
    assert state["columns"]["x"] == {"lower": -10.0, "upper": 20.0}
    _, state = clip_outliers(df, columns=["x"], method="std", factor=1.0)
    assert state["columns"]["x"] == {"lower": 0.0, "upper": 10.0}


def test_quantile_clipping_uses_the_chosen_quantiles() -> None:
    df = pd.DataFrame({"x": np.arange(101, dtype="float64")})
    out, state = clip_outliers(
        df, columns=["x"], method="quantile", lower_quantile=0.1, upper_quantile=0.9
    )
    assert state["columns"]["x"] == {"lower": 10.0, "upper": 90.0}
    assert (out["x"].min(), out["x"].max()) == (10.0, 90.0)


def test_quantile_clipping_refuses_a_lower_quantile_above_the_upper() -> None:
    with pytest.raises(ValueError, match="lower_quantile must be below upper_quantile"):
        clip_outliers(
            frame(), columns=["x"], method="quantile", lower_quantile=0.9, upper_quantile=0.1
        )


def test_clipping_new_data_uses_the_training_bounds() -> None:
    _, state = clip_outliers(
        pd.DataFrame({"x": [0.0, 10.0]}), columns=["x"], method="std", factor=1.0
    )
    out, _ = clip_outliers(
        pd.DataFrame({"x": [-50.0, 5.0, 50.0]}),
        state=json_round_trip(state),
        columns=["x"],
        method="std",
    )
    assert out["x"].tolist() == [0.0, 5.0, 10.0]
