"""Forms of the HTML pages. They check shape only; services check the data and say why not."""

from __future__ import annotations

from django import forms

from studio.choices import Role
from studio.errors import ServiceError


class ServiceErrorsMixin:
    """Show a service's refusal next to the field it names, or above the form."""

    def add_service_error(self, exc: ServiceError) -> None:
        fields = self.fields  # type: ignore[attr-defined]
        self.add_error(exc.field if exc.field in fields else None, exc.message)  # type: ignore[attr-defined]


class ProjectForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(max_length=120, widget=forms.TextInput(attrs={"autofocus": True}))
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="Optional."
    )


class MemberForm(ServiceErrorsMixin, forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.SCIENTIST)


class DatasetUploadForm(ServiceErrorsMixin, forms.Form):
    file = forms.FileField(
        allow_empty_file=True,  # the service says "The file is empty." in its own words
        help_text="CSV, TSV, Parquet, JSON Lines, or a ZIP of images.",
    )
    name = forms.CharField(
        max_length=200,
        required=False,
        help_text="Defaults to the file name. Uploading under an existing name adds a version.",
    )


class TestJobForm(forms.Form):
    kind = forms.ChoiceField(choices=[("diagnostic.noop", "No-op"), ("diagnostic.sleep", "Sleep")])
