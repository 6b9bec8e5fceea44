"""Declared hyperparameters and the check of what a user gives: conversion of SageMaker-style
strings, bounds, types, choices, and the fields ``check_spec`` names in its errors."""

from __future__ import annotations

import math
from typing import Any

import pytest

from training.engine import algorithms, check_spec, get_algorithm
from training.engine.hyperparams import HP, HyperparameterError, check_hyperparameters
from training.engine.train import TrainingError


def declared(name: str) -> tuple[HP, ...]:
    algo = get_algorithm(name)
    assert algo is not None
    return algo.hyperparameters


XGB = declared("xgboost")
MLP = declared("mlp")


def check(given: Any, hps: tuple[HP, ...] = XGB) -> dict[str, Any]:
    return check_hyperparameters(hps, given)


# --------------------------------------------------------------------------- defaults


def test_defaults_are_filled_in() -> None:
    checked = check({})
    assert checked == {hp.name: hp.default for hp in XGB}
    assert checked["num_round"] == 100
    assert checked["eta"] == 0.3
    assert checked["tree_method"] == "hist"
    assert checked["objective"] is None
    assert checked["early_stopping_rounds"] is None
    assert check(None) == checked


def test_given_values_replace_only_their_defaults() -> None:
    checked = check({"eta": 0.1, "max_depth": 3})
    assert checked["eta"] == 0.1
    assert checked["max_depth"] == 3
    assert checked["num_round"] == 100
    assert list(checked) == [hp.name for hp in XGB]


@pytest.mark.parametrize("algo", algorithms(), ids=lambda a: a.name)
def test_every_default_passes_its_own_check(algo: Any) -> None:
    defaults = {hp.name: hp.default for hp in algo.hyperparameters}
    assert check_hyperparameters(algo.hyperparameters, defaults) == defaults
    assert check_hyperparameters(algo.hyperparameters, {}) == defaults


def test_none_leaves_a_value_unset() -> None:
    assert check({"early_stopping_rounds": None})["early_stopping_rounds"] is None
    assert check({"num_round": None})["num_round"] is None


# --------------------------------------------------------------------------- conversion


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("eta", "0.3", 0.3),
        ("eta", " 0.05 ", 0.05),
        ("eta", "1e-2", 0.01),
        ("eta", 1, 1.0),
        ("num_round", "25", 25),
        ("num_round", " 25 ", 25),
        ("num_round", 25.0, 25),
        ("max_depth", 0, 0),
        ("tree_method", "approx", "approx"),
        ("tree_method", " hist ", "hist"),
        ("objective", "reg:absoluteerror", "reg:absoluteerror"),
    ],
)
def test_strings_and_numbers_are_converted(name: str, given: Any, expected: Any) -> None:
    value = check({name: given})[name]
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("true", True),
        ("True", True),
        (" TRUE ", True),
        ("1", True),
        (True, True),
        ("false", False),
        ("False", False),
        ("0", False),
        (False, False),
    ],
)
def test_booleans(given: Any, expected: bool) -> None:
    assert check({"early_stopping": given}, MLP)["early_stopping"] is expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("64,32", [64, 32]),
        (" 64 , 32 ", [64, 32]),
        ("64", [64]),
        (64, [64]),
        ([64, 32, 16], [64, 32, 16]),
        (["8", 4], [8, 4]),
    ],
)
def test_lists_of_whole_numbers(given: Any, expected: list[int]) -> None:
    assert check({"hidden_layer_sizes": given}, MLP)["hidden_layer_sizes"] == expected


def test_text_is_stripped() -> None:
    text = declared("text-classifier")
    assert check({"text_column": "  review "}, text)["text_column"] == "review"
    with pytest.raises(HyperparameterError, match="text_column must be text, not 3"):
        check({"text_column": 3}, text)


# --------------------------------------------------------------------------- bounds


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"num_round": 0}, "num_round must be at least 1."),
        ({"num_round": 100_001}, "num_round must be at most 100000."),
        ({"max_depth": -1}, "max_depth must be at least 0."),
        ({"eta": 0}, "eta must be above 0."),
        ({"eta": "0.0"}, "eta must be above 0."),
        ({"eta": -0.1}, "eta must be above 0."),
        ({"eta": 1.5}, "eta must be at most 1."),
        ({"subsample": 0}, "subsample must be above 0."),
        ({"max_bin": 1}, "max_bin must be at least 2."),
        ({"early_stopping_rounds": 0}, "early_stopping_rounds must be at least 1."),
        ({"scale_pos_weight": 0.0}, "scale_pos_weight must be above 0."),
    ],
)
def test_out_of_bounds(given: dict[str, Any], message: str) -> None:
    with pytest.raises(HyperparameterError) as info:
        check(given)
    assert info.value.message == message
    assert str(info.value) == message
    assert info.value.name == next(iter(given))


@pytest.mark.parametrize(
    "given",
    [
        {"num_round": 1},
        {"num_round": 100_000},
        {"eta": 1},
        {"eta": 1e-12},
        {"max_depth": 64},
        {"subsample": 1.0},
        {"max_bin": 2},
        {"gamma": 0},
    ],
)
def test_the_bounds_themselves(given: dict[str, Any]) -> None:
    name, value = next(iter(given.items()))
    assert check(given)[name] == value


def test_bounds_apply_to_each_item_of_a_list() -> None:
    with pytest.raises(HyperparameterError, match="hidden_layer_sizes must be at least 1"):
        check({"hidden_layer_sizes": "64,0"}, MLP)


# --------------------------------------------------------------------------- wrong types


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"num_round": True}, "num_round must be a whole number, not True."),
        ({"num_round": False}, "num_round must be a whole number, not False."),
        ({"num_round": 2.5}, "num_round must be a whole number, not 2.5."),
        ({"num_round": "2.5"}, "num_round must be a whole number, not '2.5'."),
        ({"num_round": "many"}, "num_round must be a whole number, not 'many'."),
        ({"num_round": [3]}, "num_round must be a whole number, not [3]."),
        ({"num_round": math.nan}, "num_round must be a whole number, not nan."),
        ({"eta": "abc"}, "eta must be a number, not 'abc'."),
        ({"eta": ""}, "eta must be a number, not ''."),
        ({"eta": True}, "eta must be a number, not True."),
        ({"eta": math.nan}, "eta must be a number, not nan."),
        ({"eta": "nan"}, "eta must be a number, not 'nan'."),
        ({"eta": math.inf}, "eta must be a number, not inf."),
        ({"eta": "-inf"}, "eta must be a number, not '-inf'."),
        ({"eta": [0.1]}, "eta must be a number, not [0.1]."),
        ({"eta": {"value": 0.1}}, "eta must be a number, not {'value': 0.1}."),
    ],
)
def test_wrong_types(given: dict[str, Any], message: str) -> None:
    with pytest.raises(HyperparameterError) as info:
        check(given)
    assert info.value.message == message
    assert info.value.name == next(iter(given))


@pytest.mark.parametrize("given", ["yes", "", 1, 0, 1.0])
def test_wrong_booleans(given: Any) -> None:
    with pytest.raises(HyperparameterError, match="early_stopping must be true or false"):
        check({"early_stopping": given}, MLP)


@pytest.mark.parametrize("given", ["64,x", "64,,32", "", [], [True], [1.5], {"a": 1}, True])
def test_wrong_lists(given: Any) -> None:
    with pytest.raises(HyperparameterError) as info:
        check({"hidden_layer_sizes": given}, MLP)
    assert info.value.name == "hidden_layer_sizes"
    assert "whole numbers separated by commas" in info.value.message


@pytest.mark.parametrize("given", ["exact", "HIST", "", 3, ["hist"]])
def test_choices(given: Any) -> None:
    with pytest.raises(HyperparameterError) as info:
        check({"tree_method": given})
    assert info.value.message == f"tree_method must be one of hist, approx, not {given!r}."


# --------------------------------------------------------------------------- names


def test_unknown_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(HyperparameterError) as info:
        check({"learning_rate": 0.1}, declared("kmeans"))
    assert info.value.name == "learning_rate"
    assert info.value.message == (
        "Unknown hyperparameter 'learning_rate'; this algorithm takes: "
        "init_method, k, max_iterations, n_init, tol."
    )


def test_hyperparameters_must_be_an_object() -> None:
    for given in (["eta"], "eta=0.1", 3):
        with pytest.raises(HyperparameterError) as info:
            check(given)
        assert info.value.name == ""


def test_declaration_describes_itself() -> None:
    eta = next(hp for hp in XGB if hp.name == "eta")
    assert eta.to_dict() == {
        "name": "eta",
        "type": "float",
        "default": 0.3,
        "above": 0,
        "maximum": 1,
        "help": "Learning rate: each tree's shrinkage.",
    }
    method = next(hp for hp in XGB if hp.name == "tree_method")
    assert method.to_dict()["choices"] == ["hist", "approx"]
    with pytest.raises(AssertionError):
        HP("x", "complex", None, "")
    with pytest.raises(AssertionError):
        HP("x", "choice", None, "")  # a choice needs its choices


# --------------------------------------------------------------------------- check_spec


def test_check_spec_returns_the_checked_hyperparameters() -> None:
    checked = check_spec("xgboost", {"eta": "0.1", "num_round": "5"}, "auto")
    assert checked["eta"] == 0.1
    assert checked["num_round"] == 5
    assert checked["max_depth"] == 6
    for problem in (None, "", "auto", "regression", "binary_classification"):
        assert check_spec("xgboost", {}, problem)["num_round"] == 100
    assert check_spec("kmeans", None, "clustering")["k"] == 8


@pytest.mark.parametrize(
    ("algorithm", "hyperparameters", "problem_type", "field", "message"),
    [
        ("xgboost", {"eta": 2}, None, "hyperparameters.eta", "eta must be at most 1."),
        ("xgboost", {"eta": "fast"}, None, "hyperparameters.eta", "eta must be a number"),
        (
            "xgboost",
            {"num_round": True},
            None,
            "hyperparameters.num_round",
            "num_round must be a whole number",
        ),
        ("mlp", {"bogus": 1}, None, "hyperparameters.bogus", "Unknown hyperparameter 'bogus'"),
        ("mlp", [1, 2], None, "hyperparameters", "hyperparameters must be an object"),
        ("deep-magic", {}, None, "algorithm", "Unknown algorithm 'deep-magic'."),
        (
            "xgboost",
            {},
            "clustering",
            "problem_type",
            "xgboost solves binary_classification, multiclass_classification, regression, "
            "not clustering.",
        ),
        ("kmeans", {}, "regression", "problem_type", "kmeans solves clustering, not regression"),
        (
            "text-classifier",
            {},
            "regression",
            "problem_type",
            "text-classifier solves binary_classification, multiclass_classification, "
            "not regression.",
        ),
        ("xgboost", {}, "classification", "problem_type", "not classification"),
    ],
)
def test_check_spec_errors_name_their_field(
    algorithm: str, hyperparameters: Any, problem_type: str | None, field: str, message: str
) -> None:
    with pytest.raises(TrainingError) as info:
        check_spec(algorithm, hyperparameters, problem_type)
    assert info.value.field == field
    assert message in info.value.message
    assert isinstance(info.value, ValueError)


def test_check_spec_checks_the_problem_type_before_the_hyperparameters() -> None:
    with pytest.raises(TrainingError) as info:
        check_spec("kmeans", {"bogus": 1}, "regression")
    assert info.value.field == "problem_type"
