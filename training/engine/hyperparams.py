"""Declared hyperparameters: their types, ranges and defaults, and the check of what a user
gives (values may come as strings, as SageMaker passes them: ``"0.3"``, ``"true"``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

KINDS = ("int", "float", "bool", "choice", "string", "ints")


class HyperparameterError(ValueError):
    """A hyperparameter that is unknown, of the wrong type or out of range."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


@dataclass(frozen=True)
class HP:
    """One hyperparameter. ``default`` None means unset (the algorithm decides)."""

    name: str
    kind: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None  # a lower bound the value must exceed (not reach)
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind
        assert self.kind != "choice" or self.choices, self.name

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.kind, "default": self.default}
        for key in ("minimum", "maximum", "above"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.choices:
            out["choices"] = list(self.choices)
        out["help"] = self.help
        return out

    def check(self, value: Any) -> Any:
        """The value converted to this type; raises :class:`HyperparameterError`."""
        if value is None:
            return None
        converted = _convert(self, value)
        if self.kind in ("int", "float"):
            self._check_range(converted)
        elif self.kind == "ints":
            for item in converted:
                self._check_range(item)
        return converted

    def _check_range(self, value: float) -> None:
        if self.minimum is not None and value < self.minimum:
            raise HyperparameterError(self.name, f"{self.name} must be at least {self.minimum:g}.")
        if self.maximum is not None and value > self.maximum:
            raise HyperparameterError(self.name, f"{self.name} must be at most {self.maximum:g}.")
        if self.above is not None and value <= self.above:
            raise HyperparameterError(self.name, f"{self.name} must be above {self.above:g}.")


def _convert(hp: HP, value: Any) -> Any:
    wrong = HyperparameterError(hp.name, f"{hp.name} must be {_kind_words(hp)}, not {value!r}.")
    if hp.kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        raise wrong
    if hp.kind == "int":
        if isinstance(value, bool):
            raise wrong
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
            try:
                number = float(value.strip())  # "25.0", as a float 25.0 is taken
            except ValueError:
                raise wrong from None
            if number.is_integer():
                return int(number)
            raise wrong
        raise wrong
    if hp.kind == "float":
        if isinstance(value, bool):
            raise wrong
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise wrong from None
        if not math.isfinite(number):
            raise wrong
        return number
    if hp.kind == "choice":
        text = str(value).strip() if isinstance(value, str | int | float) else None
        if text not in hp.choices:
            raise HyperparameterError(
                hp.name, f"{hp.name} must be one of {', '.join(hp.choices)}, not {value!r}."
            )
        return text
    if hp.kind == "string":
        if not isinstance(value, str):
            raise wrong
        return value.strip()
    # ints: "64,32", "64", [64, 32]
    items = value.split(",") if isinstance(value, str) else value
    if isinstance(items, int) and not isinstance(items, bool):
        items = [items]
    if not isinstance(items, list) or not items:
        raise wrong
    out = []
    for item in items:
        if isinstance(item, bool):
            raise wrong
        try:
            out.append(int(str(item).strip()))
        except ValueError:
            raise wrong from None
    return out


def _kind_words(hp: HP) -> str:
    return {
        "int": "a whole number",
        "float": "a number",
        "bool": "true or false",
        "choice": f"one of {', '.join(hp.choices)}",
        "string": "text",
        "ints": "whole numbers separated by commas, such as 64,32",
    }[hp.kind]


def check_hyperparameters(declared: tuple[HP, ...], given: Any) -> dict[str, Any]:
    """``given`` checked against ``declared``, defaults filled in."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise HyperparameterError("", "hyperparameters must be an object of name → value.")
    names = {hp.name: hp for hp in declared}
    for name in given:
        if name not in names:
            known = ", ".join(sorted(names)) or "none"
            raise HyperparameterError(
                str(name), f"Unknown hyperparameter {name!r}; this algorithm takes: {known}."
            )
    return {
        hp.name: hp.check(given[hp.name]) if hp.name in given else hp.default for hp in declared
    }
