"""The registry's compute: checking model uploads and wrapping them into the studio's own
model archive. Pure Python (scikit-learn, xgboost, pandas); nothing from Django."""

from registry.engine.package import (
    PackageError,
    WrapSpec,
    check_classes,
    check_input_schema,
    check_problem_type,
    inspect_archive,
    upload_kind,
    wrap,
)

__all__ = [
    "PackageError",
    "WrapSpec",
    "check_classes",
    "check_input_schema",
    "check_problem_type",
    "inspect_archive",
    "upload_kind",
    "wrap",
]
