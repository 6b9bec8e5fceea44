"""Forms of the registry's pages. They check shape only; services check the data."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from studio.forms import ServiceErrorsMixin


def parse_columns(text: str) -> Any:
    """What people type for an input schema: a JSON list, or column names separated by
    commas or new lines (numbers then)."""
    text = text.strip()
    if not text:
        return None
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            return text  # the service says what is wrong with it, beside the field
    return [name.strip() for line in text.splitlines() for name in line.split(",") if name.strip()]


def _problem_choices() -> list[tuple[str, str]]:
    # A callable, so the engine (and numpy, pandas) loads when a form is drawn, not at start.
    from registry.engine.package import PROBLEM_TYPES

    return [("", "Infer it from the model")] + [(p, p.replace("_", " ")) for p in PROBLEM_TYPES]


class ModelUploadForm(ServiceErrorsMixin, forms.Form):
    group = forms.CharField(
        max_length=200, help_text="The model group; a new name starts a new group."
    )
    artifact = forms.FileField(
        allow_empty_file=True,  # the service says "The file is empty." in its own words
        help_text="A Sextant model.tar.gz, a scikit-learn model saved with joblib or pickle "
        "(.joblib, .pkl), or an XGBoost model (.json, .ubj).",
    )
    input_schema = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required except for a model.tar.gz: the input columns in order, as names "
        '(age, income, city) or JSON ([{"name": "city", "type": "string"}, …]).',
    )
    problem_type = forms.ChoiceField(
        required=False,
        choices=_problem_choices,
    )
    classes = forms.CharField(
        required=False,
        help_text="An XGBoost classifier's labels in the order of its outputs, comma-separated.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ModelCardForm(forms.Form):
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    intended_use = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    out_of_scope = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    training_data = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    evaluation = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    caveats = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    ethical_considerations = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
