"""From a table to a model's input: the input schema, and the preprocessing that a trained
model carries with it (so new data is encoded exactly as the training data was).

A column is one of four kinds:

- ``numeric``: numbers and booleans (as 0/1);
- ``datetime``: dates and times, as seconds since 1970 (a number);
- ``categorical``: text and categories, encoded by the algorithm's choice: ordinal codes
  (trees), or one column per frequent value (linear models, neighbours, networks);
- ``text``: free text for the text classifier, as TF-IDF of words and word n-grams.

:func:`prepare` turns a frame into what the preprocessing takes (the same at training and
prediction time); the preprocessing itself is a scikit-learn ``ColumnTransformer``, so a
saved model needs only scikit-learn (and xgboost) to load.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer

#: The most columns one categorical column becomes in a one-hot encoding.
MAX_CATEGORIES = 50


@dataclass(frozen=True)
class InputColumn:
    name: str
    kind: str  # numeric | datetime | categorical | text
    dtype: str  # the column's type in the training data, for people and checks

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "kind": self.kind, "dtype": self.dtype}


def column_kind(series: pd.Series) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "numeric"
    if pd.api.types.is_object_dtype(dtype):
        kinds = {type(v) for v in series.dropna().head(1000)}
        if kinds and kinds <= {bool, int, float}:
            return "numeric"
        if kinds and all(issubclass(k, datetime.date) for k in kinds):
            return "datetime"  # dates read from Parquet's date32 are Python dates
    return "categorical"


def input_schema(df: pd.DataFrame, *, text_column: str | None = None) -> list[InputColumn]:
    """The model's input columns, in order (every column of ``df``: drop the target first)."""
    out = []
    for name in df.columns:
        kind = "text" if name == text_column else column_kind(df[name])
        out.append(InputColumn(str(name), kind, str(df[name].dtype)))
    return out


#: The number type each encoding hands its model: trees split on float32 values (XGBoost
#: and scikit-learn's trees convert to it themselves), the others compute in float64.
NUMBER_TYPES = {"ordinal": "float32", "scaled": "float64", "text": "float64", "sparse": "float64"}


def prepare(df: pd.DataFrame, schema: list[InputColumn], dtype: str = "float64") -> pd.DataFrame:
    """The schema's columns of ``df``, as the preprocessing takes them: numbers as
    ``dtype`` (NaN for gaps), categories as Python strings (NaN for gaps), text as strings ("" for
    gaps). A missing column is an error that names it."""
    missing = [c.name for c in schema if c.name not in df.columns]
    if missing:
        raise ValueError(f"The data has no column {missing[0]!r}, which the model takes.")
    columns: dict[str, Any] = {}
    for column in schema:
        series = df[column.name]
        if column.kind == "numeric":
            columns[column.name] = _numbers(series, dtype)
        elif column.kind == "datetime":
            if pd.api.types.is_datetime64_any_dtype(series.dtype):
                stamps = pd.to_datetime(series, utc=True)
            else:  # text or Python dates, of any ISO layout
                stamps = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
            seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
            columns[column.name] = seconds.to_numpy(dtype=dtype, na_value=np.nan)
        elif column.kind == "text":
            columns[column.name] = series.astype("object").where(series.notna(), "").astype(str)
        else:
            values = series.astype("object")
            text = values.where(values.isna(), values.astype(str))
            columns[column.name] = text.where(text.notna(), np.nan).to_numpy(dtype=object)
    return pd.DataFrame(columns, index=df.index)


def _numbers(series: pd.Series, dtype: str) -> np.ndarray:
    if pd.api.types.is_timedelta64_dtype(series.dtype):
        series = series / pd.Timedelta(seconds=1)
    elif not (
        pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)
    ):
        series = pd.to_numeric(series, errors="coerce")  # text: what is not a number is a gap
    values: np.ndarray = series.to_numpy(dtype=dtype, na_value=np.nan)
    return values


def preprocessor(schema: list[InputColumn], encoding: str) -> ColumnTransformer:
    """The preprocessing for an algorithm's ``encoding``:

    - ``ordinal`` (trees): numbers as they are (gaps stay NaN), categories as codes;
    - ``scaled``: gaps filled (medians, the most frequent value), numbers standardised,
      categories one-hot (the 50 most frequent values, the rest together);
    - ``text``: the text column as TF-IDF (see :func:`text_features`).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    numeric = [c.name for c in schema if c.kind in ("numeric", "datetime")]
    categorical = [c.name for c in schema if c.kind == "categorical"]
    parts: list[tuple[str, Any, Any]] = []
    if encoding == "ordinal":
        if numeric:
            parts.append(("numbers", "passthrough", numeric))
        if categorical:
            codes = OrdinalEncoder(
                handle_unknown="use_encoded_value",
                unknown_value=np.nan,
                encoded_missing_value=np.nan,
                dtype=np.float32,
            )
            parts.append(("categories", codes, categorical))
    elif encoding == "scaled":
        if numeric:
            numbers = Pipeline(
                [("fill", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
            )
            parts.append(("numbers", numbers, numeric))
        if categorical:
            onehot = Pipeline(
                [
                    ("fill", SimpleImputer(strategy="constant", fill_value="(missing)")),
                    (
                        "onehot",
                        OneHotEncoder(
                            handle_unknown="infrequent_if_exist",
                            max_categories=MAX_CATEGORIES,
                            sparse_output=False,
                        ),
                    ),
                ]
            )
            parts.append(("categories", onehot, categorical))
    elif encoding == "sparse":
        # Every value of every category its own column (users, items…), kept sparse.
        if numeric:
            numbers = Pipeline(
                [("fill", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
            )
            parts.append(("numbers", numbers, numeric))
        if categorical:
            onehot = Pipeline(
                [
                    ("fill", SimpleImputer(strategy="constant", fill_value="(missing)")),
                    ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=True)),
                ]
            )
            parts.append(("categories", onehot, categorical))
    else:
        raise ValueError(f"Unknown encoding {encoding!r}.")
    if not parts:
        raise ValueError("There is no input column to learn from.")
    return ColumnTransformer(
        parts,
        remainder="drop",
        verbose_feature_names_out=False,
        sparse_threshold=1.0 if encoding == "sparse" else 0.0,
    )


def text_features(column: str, *, ngrams: int, min_count: int, max_features: int) -> Any:
    """TF-IDF of words and word n-grams of one text column."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        ngram_range=(1, ngrams), min_df=min_count, max_features=max_features, sublinear_tf=True
    )
    return ColumnTransformer([("text", vectorizer, column)], remainder="drop")


def pick_text_column(df: pd.DataFrame, wanted: str | None) -> str:
    """The text column to classify: ``wanted``, or the text column with the longest values."""
    if wanted:
        if wanted not in df.columns:
            raise ValueError(f"The data has no column {wanted!r} (text_column).")
        return wanted
    lengths = {
        str(name): float(df[name].dropna().astype(str).str.len().mean() or 0)
        for name in df.columns
        if column_kind(df[name]) == "categorical"
    }
    if not lengths:
        raise ValueError("There is no text column to classify; set text_column.")
    return max(lengths, key=lambda n: lengths[n])


def feature_names(transformer: Any) -> list[str]:
    try:
        return [str(n) for n in transformer.get_feature_names_out()]
    except (AttributeError, ValueError):
        return []
