"""Machine-learning preparation: principal components, class balancing, train/test splits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from wrangler.engine.contracts import Param
from wrangler.engine.registry import transform


def _finite_matrix(df: pd.DataFrame, columns: list[str], action: str) -> Any:
    """The columns as a float matrix; ValueError on a non-numeric column or a row with nulls."""
    for column in columns:
        dtype = df[column].dtype
        if not pd.api.types.is_numeric_dtype(dtype):
            raise ValueError(
                f"{column!r} is not numeric (it holds {dtype} values); {action} needs numbers. "
                "Encode or convert it first, or leave it out."
            )
    matrix = df[columns].to_numpy(dtype="float64", na_value=np.nan)
    bad = int((~np.isfinite(matrix)).any(axis=1).sum())
    if bad:
        raise ValueError(
            f"{bad} row(s) have null or infinite values in the chosen columns; {action} cannot "
            "use them. Fill or drop missing values first."
        )
    return matrix


@transform(
    "pca",
    title="PCA",
    category="Features",
    fitted=True,
    helpers=[_finite_matrix],
    params=[
        Param("columns", "columns", required=True),
        Param("n_components", "integer", default=2, minimum=1, maximum=1000),
        Param("prefix", "string", default="pc", help="Components are named <prefix>_1, _2, …"),
        Param("drop_original", "boolean", default=True),
        Param(
            "standardise",
            "boolean",
            default=True,
            help="Scale each column to unit variance first, so units do not weigh in.",
        ),
    ],
)
def pca(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    columns: list[str],
    n_components: int = 2,
    prefix: str = "pc",
    drop_original: bool = True,
    standardise: bool = True,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Project the columns onto their first principal components.

    The centring, the scaling and the components are learnt when fitting and applied to new
    data as they are. Each component's sign is fixed so its largest weight is positive.
    """
    action = "PCA"
    if state is None:
        matrix = _finite_matrix(df, columns, action)
        rows, width = matrix.shape
        if rows < 2:
            raise ValueError(f"PCA needs at least two rows to learn from; the input has {rows}.")
        if n_components > min(rows, width):
            raise ValueError(
                f"n_components is {n_components}, but {rows} row(s) of {width} column(s) give "
                f"at most {min(rows, width)}; lower it or pick more columns."
            )
        mean = matrix.mean(axis=0)
        scale = matrix.std(axis=0) if standardise else np.ones(width)
        scale[~(scale > 0)] = 1.0
        _, singular, vt = np.linalg.svd((matrix - mean) / scale, full_matrices=False)
        components = vt[:n_components]
        strongest = np.argmax(np.abs(components), axis=1)
        signs = np.sign(components[np.arange(n_components), strongest])
        signs[signs == 0] = 1.0
        components = components * signs[:, None]
        variance = singular**2
        total = float(variance.sum())
        ratio = variance[:n_components] / total if total > 0 else np.zeros(n_components)
        state = {
            "mean": [float(v) for v in mean],
            "scale": [float(v) for v in scale],
            "components": [[float(v) for v in row] for row in components],
            "explained_variance_ratio": [float(v) for v in ratio],
        }
    components = np.asarray(state["components"], dtype="float64")
    if components.shape[1] != len(columns):
        raise ValueError("The PCA was fitted on other columns; fit the flow again.")
    matrix = _finite_matrix(df, columns, action)
    centred = (matrix - np.asarray(state["mean"])) / np.asarray(state["scale"])
    scores = centred @ components.T if len(matrix) else np.zeros((0, len(components)))
    names = [f"{prefix}_{i + 1}" for i in range(len(components))]
    base = df.drop(columns=columns) if drop_original else df
    projected = pd.DataFrame(scores, index=df.index, columns=names)
    return pd.concat(
        [base.drop(columns=[n for n in names if n in base.columns]), projected], axis=1
    ), state


@transform(
    "balance",
    title="Balance classes",
    category="Sampling",
    fitted=True,
    params=[
        Param("target", "column", required=True, fit_only=True, help="The class column."),
        Param(
            "method",
            "choice",
            default="random_oversample",
            choices=("random_oversample", "random_undersample", "smote"),
        ),
        Param("seed", "integer", default=0, minimum=0),
        Param(
            "k_neighbors",
            "integer",
            default=5,
            minimum=1,
            maximum=100,
            help="SMOTE: how many same-class neighbours a synthetic row may lie towards.",
        ),
    ],
)
def balance(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    target: str,
    method: str = "random_oversample",
    seed: int = 0,
    k_neighbors: int = 5,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Even out the classes of the target column, on the training data only.

    random_oversample repeats random rows of the smaller classes up to the largest class
    (the copies follow the original rows, in the rows' order);
    random_undersample keeps random rows of every class down to the smallest (in their
    original order); smote adds synthetic rows to the smaller classes, each on the segment
    between a random row of the class and one of its ``k_neighbors`` nearest same-class rows:
    numeric columns are interpolated (whole-number columns rounded), other columns are copied
    from the first row. Added rows come after the original ones. Rows with no class are kept.

    Balancing belongs to fitting only: when the fitted flow is applied to new data (it is
    given its state), the rows pass through unchanged, so predictions are made for every row.
    """
    if state is not None:
        return df, state
    labels = df[target]
    codes, classes = pd.factorize(labels)
    if len(classes) < 2:
        raise ValueError(
            f"The target {target!r} has {len(classes)} class(es) with values; balancing needs "
            "at least two."
        )
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(codes == c) for c in range(len(classes))]
    sizes = [len(m) for m in members]
    if method == "random_undersample":
        keep = [np.flatnonzero(codes < 0)]
        keep += [rng.choice(m, min(sizes), replace=False) for m in members]
        out = df.iloc[np.sort(np.concatenate(keep))]
    elif method == "random_oversample":
        extra = [rng.choice(m, max(sizes) - len(m), replace=True) for m in members]
        out = pd.concat([df, df.iloc[np.sort(np.concatenate(extra))]])
    else:
        from sklearn.neighbors import NearestNeighbors

        features = [
            c
            for c in df.columns
            if c != target
            and pd.api.types.is_numeric_dtype(df[c].dtype)
            and not pd.api.types.is_bool_dtype(df[c].dtype)
        ]
        if not features:
            raise ValueError(
                "SMOTE needs numeric feature columns to interpolate; there are none. "
                "Use random_oversample instead."
            )
        matrix = df[features].to_numpy(dtype="float64", na_value=np.nan)
        made = [df]
        for m in members:
            need = max(sizes) - len(m)
            if need == 0:
                continue
            points = matrix[m]
            bad = int((~np.isfinite(points)).any(axis=1).sum())
            if bad:
                raise ValueError(
                    f"{bad} row(s) to interpolate have null values in numeric columns; SMOTE "
                    "cannot use them. Fill or drop missing values first."
                )
            local = rng.integers(0, len(m), need)
            k = min(k_neighbors, len(m) - 1)
            if k == 0:  # a class of one row: its copies are the only points there are
                synthetic = points[local]
            else:
                finder = NearestNeighbors(n_neighbors=k + 1).fit(points)
                neighbours = finder.kneighbors(points, return_distance=False)[:, 1:]
                partner = neighbours[local, rng.integers(0, k, need)]
                gap = rng.random(need)[:, None]
                synthetic = points[local] + gap * (points[partner] - points[local])
            rows = df.iloc[m[local]]
            for j, column in enumerate(features):
                values = synthetic[:, j]
                if pd.api.types.is_integer_dtype(df[column].dtype):
                    values = np.round(values)
                rows = rows.assign(
                    **{column: pd.Series(values, index=rows.index).astype(df[column].dtype)}
                )
            made.append(rows)
        out = pd.concat(made)
    out = out.reset_index(drop=True)
    after_codes = pd.Categorical(out[target], categories=classes).codes
    return out, {
        "method": method,
        "classes": [str(c) for c in classes],
        "counts_before": sizes,
        "counts_after": [int((after_codes == c).sum()) for c in range(len(classes))],
    }


@transform(
    "train_test_split",
    title="Train/test split",
    category="Sampling",
    params=[
        Param("test_size", "number", default=0.2, minimum=0, maximum=1, help="Share of rows."),
        Param("seed", "integer", default=0, minimum=0),
        Param("stratify", "column", help="Keep this column's class shares in both parts."),
        Param(
            "part",
            "choice",
            default="both",
            choices=("train", "test", "both"),
            help="both keeps every row and adds a 'split' column saying train or test.",
        ),
    ],
)
def train_test_split(
    df: pd.DataFrame,
    *,
    state: dict[str, Any] | None = None,
    test_size: float = 0.2,
    seed: int = 0,
    stratify: str | None = None,
    part: str = "both",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Split the rows at random into a training and a test part, and keep one or mark both.

    The split depends only on the rows and the seed: two nodes with the same input and seed
    (one keeping train, the other test) get complementary parts. With ``stratify``, each
    value of that column (null included) is split on its own, so both parts keep its shares.
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be between 0 and 1 (exclusive), not {test_size:g}.")
    if part == "both" and "split" in df.columns:
        raise ValueError("The input already has a 'split' column; rename or drop it first.")
    rng = np.random.default_rng(seed)
    if stratify:
        codes, _ = pd.factorize(df[stratify], use_na_sentinel=False)
        groups = [np.flatnonzero(codes == c) for c in range(int(codes.max(initial=-1)) + 1)]
    else:
        groups = [np.arange(len(df))]
    is_test = np.zeros(len(df), dtype=bool)
    for group in groups:
        take = int(test_size * len(group) + 0.5)
        is_test[rng.permutation(group)[:take]] = True
    if part == "both":
        marks = pd.Series(np.where(is_test, "test", "train"), index=df.index, dtype="str")
        return df.assign(split=marks), {}
    keep = is_test if part == "test" else ~is_test
    return df.iloc[np.flatnonzero(keep)].reset_index(drop=True), {}
