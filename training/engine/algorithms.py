"""The built-in algorithms: their hyperparameters (SageMaker's names where they exist) and
how each builds and fits its estimator on the preprocessed data.

Supervised algorithms take a target; their problem (binary or multiclass classification,
regression) is inferred from it or set. ``kmeans`` clusters, ``pca`` reduces dimensions and
``isolation-forest`` scores anomalies; they take no target (one, if given, is used only to
measure them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from training.engine.hyperparams import HP

CLASSIFICATION = ("binary_classification", "multiclass_classification")
SUPERVISED = (*CLASSIFICATION, "regression")
PROBLEM_TYPES = (
    *SUPERVISED,
    "clustering",
    "dimensionality_reduction",
    "anomaly_detection",
    "forecasting",
)

OnIteration = Callable[[int, dict[str, float]], None]
OnImportance = Callable[[int, dict[str, float]], None]
#: XGBoost reports its feature importances and new trees' depths to the debugger 50 times
#: in a training, and at least every 10 rounds (a rule may stop it early).
IMPORTANCE_REPORTS = 50
IMPORTANCE_EVERY = 10


@dataclass
class FitContext:
    """What an algorithm's build and fit see besides the data."""

    hp: dict[str, Any]
    problem: str
    n_classes: int = 0
    threads: int = 1
    device: str = "cpu"
    seed: int = 0
    validation: tuple[Any, Any] | None = None
    on_iteration: OnIteration = field(default=lambda step, values: None)
    rows: int = 0  # training rows
    # The preprocessed columns' names, and where importances go as training runs.
    feature_names: list[str] = field(default_factory=list)
    on_importance: OnImportance = field(default=lambda step, shares: None)
    on_tree_depths: Callable[[int, list[int]], None] = field(default=lambda step, depths: None)


@dataclass(frozen=True)
class Algorithm:
    name: str
    title: str
    problems: tuple[str, ...]  # supervised: those it solves; else its one task
    encoding: str  # ordinal | scaled | text
    hyperparameters: tuple[HP, ...]
    build: Callable[[FitContext], Any]
    description: str
    fit: Callable[[Any, Any, Any, FitContext], None] | None = None

    @property
    def supervised(self) -> bool:
        return self.problems[0] in SUPERVISED

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "supervised": self.supervised,
            "problem_types": list(self.problems),
            "hyperparameters": [hp.to_dict() for hp in self.hyperparameters],
        }


_ALGORITHMS: dict[str, Algorithm] = {}


def register(algorithm: Algorithm) -> Algorithm:
    _ALGORITHMS[algorithm.name] = algorithm
    return algorithm


def get_algorithm(name: str) -> Algorithm | None:
    return _ALGORITHMS.get(name)


def algorithms() -> list[Algorithm]:
    return list(_ALGORITHMS.values())


# --------------------------------------------------------------------------- xgboost

XGB_METRICS = ("auto", "rmse", "mae", "logloss", "error", "auc", "mlogloss", "merror")


def _xgboost(ctx: FitContext) -> Any:
    import xgboost as xgb

    hp = ctx.hp
    common: dict[str, Any] = {
        "n_estimators": hp["num_round"],
        "learning_rate": hp["eta"],
        "max_depth": hp["max_depth"],
        "min_child_weight": hp["min_child_weight"],
        "subsample": hp["subsample"],
        "colsample_bytree": hp["colsample_bytree"],
        "gamma": hp["gamma"],
        "reg_lambda": hp["lambda"],
        "reg_alpha": hp["alpha"],
        "max_bin": hp["max_bin"],
        "tree_method": hp["tree_method"],
        "n_jobs": ctx.threads,
        "random_state": ctx.seed,
        "device": ctx.device,
    }
    if hp["eval_metric"] != "auto":
        common["eval_metric"] = hp["eval_metric"]
    if hp["early_stopping_rounds"] and ctx.validation is not None:
        common["early_stopping_rounds"] = hp["early_stopping_rounds"]
    if ctx.problem == "regression":
        return xgb.XGBRegressor(objective=hp["objective"] or "reg:squarederror", **common)
    if ctx.problem == "binary_classification":
        return xgb.XGBClassifier(
            objective=hp["objective"] or "binary:logistic",
            scale_pos_weight=hp["scale_pos_weight"],
            **common,
        )
    return xgb.XGBClassifier(objective=hp["objective"] or "multi:softprob", **common)


def _xgboost_fit(model: Any, x: Any, y: Any, ctx: FitContext) -> None:
    """Train with XGBoost's own ``xgboost.train`` on a ``DMatrix`` (what a direct call
    does), reporting each round's metrics; the booster then goes into ``model``, the
    scikit-learn wrapper the saved pipeline holds."""
    import xgboost as xgb

    params = {k: v for k, v in model.get_xgb_params().items() if v is not None}
    params["nthread"] = params.pop("n_jobs", ctx.threads)
    params["seed"] = params.pop("random_state", ctx.seed)
    if ctx.problem == "multiclass_classification":
        params["num_class"] = ctx.n_classes
    dtrain = xgb.DMatrix(x, label=y, nthread=ctx.threads)
    evals = [(dtrain, "train")]
    if ctx.validation is not None:
        vx, vy = ctx.validation
        evals.append((xgb.DMatrix(vx, label=vy, nthread=ctx.threads), "validation"))

    every = max(1, min(int(model.n_estimators) // IMPORTANCE_REPORTS, IMPORTANCE_EVERY))

    class Report(xgb.callback.TrainingCallback):
        def after_iteration(self, booster: Any, epoch: int, evals_log: Any) -> bool:
            values = {
                f"{channel}:{metric}": float(points[-1])
                for channel, metrics in evals_log.items()
                for metric, points in metrics.items()
            }
            ctx.on_iteration(epoch, values)
            if epoch % every == every - 1:
                ctx.on_importance(epoch, gain_shares(booster, ctx.feature_names))
                # Only the rounds since the last report: dumping every tree each time
                # would grow with the model.
                ctx.on_tree_depths(epoch, dump_depths(booster[self.reported : epoch + 1]))
                self.reported = epoch + 1
            return False

        reported = 0

    stopping = model.get_params().get("early_stopping_rounds")
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=model.n_estimators,
        evals=evals,
        early_stopping_rounds=stopping if ctx.validation is not None else None,
        callbacks=[Report()],
        verbose_eval=False,
    )
    model.load_model(bytearray(booster.save_raw(raw_format="json")))


def dump_depths(booster: Any) -> list[int]:
    """The depth of each tree of an XGBoost booster, read from its text dump (a node's
    depth is its indentation)."""
    depths = []
    for tree in booster.get_dump():
        lines = [line for line in tree.splitlines() if line.strip()]
        depths.append(max((len(line) - len(line.lstrip("\t")) for line in lines), default=0))
    return depths


def gain_shares(booster: Any, names: list[str], top: int = 20) -> dict[str, float]:
    """The ``top`` features' shares of importance in ``booster``'s trees so far, named by
    ``names``: the average gain of their splits, as XGBoost's scikit-learn models report."""
    scores = booster.get_score(importance_type="gain")
    total = sum(scores.values())
    if total <= 0:
        return {}

    def named(key: str) -> str:
        # Without names XGBoost calls the columns f0, f1, …
        index = int(key[1:]) if key[:1] == "f" and key[1:].isdigit() else -1
        return names[index] if 0 <= index < len(names) else key

    ranked = sorted(scores.items(), key=lambda kv: -kv[1])[:top]
    return {named(key): round(value / total, 6) for key, value in ranked}


register(
    Algorithm(
        name="xgboost",
        title="XGBoost",
        problems=SUPERVISED,
        encoding="ordinal",
        description="Gradient-boosted trees (binary, multiclass, regression); early stopping "
        "on the validation channel; trains on the GPU on a GPU worker.",
        hyperparameters=(
            HP("num_round", "int", 100, "Boosting rounds (trees).", minimum=1, maximum=100_000),
            HP("eta", "float", 0.3, "Learning rate: each tree's shrinkage.", above=0, maximum=1),
            HP("max_depth", "int", 6, "Maximum depth of a tree.", minimum=0, maximum=64),
            HP("min_child_weight", "float", 1.0, "Minimum hessian in a leaf.", minimum=0),
            HP("subsample", "float", 1.0, "Share of rows per tree.", above=0, maximum=1),
            HP("colsample_bytree", "float", 1.0, "Share of columns per tree.", above=0, maximum=1),
            HP("gamma", "float", 0.0, "Minimum loss reduction to split.", minimum=0),
            HP("lambda", "float", 1.0, "L2 regularisation of leaf weights.", minimum=0),
            HP("alpha", "float", 0.0, "L1 regularisation of leaf weights.", minimum=0),
            HP("max_bin", "int", 256, "Histogram bins per feature.", minimum=2, maximum=65_536),
            HP("tree_method", "choice", "hist", "Tree construction.", choices=("hist", "approx")),
            HP(
                "objective",
                "choice",
                None,
                "Learning objective; chosen from the problem when unset.",
                choices=(
                    "binary:logistic",
                    "multi:softprob",
                    "reg:squarederror",
                    "reg:absoluteerror",
                    "reg:pseudohubererror",
                    "count:poisson",
                ),
            ),
            HP("eval_metric", "choice", "auto", "Metric tracked per round.", choices=XGB_METRICS),
            HP(
                "early_stopping_rounds",
                "int",
                None,
                "Stop when the validation metric has not improved for this many rounds.",
                minimum=1,
            ),
            HP("scale_pos_weight", "float", 1.0, "Weight of positive rows (binary).", above=0),
        ),
        build=_xgboost,
        fit=_xgboost_fit,
    )
)


# --------------------------------------------------------------------------- linear-learner


def _linear(ctx: FitContext) -> Any:
    from sklearn.linear_model import ElasticNet, LinearRegression, LogisticRegression, Ridge

    hp = ctx.hp
    l1, l2 = hp["l1"], hp["wd"]
    strength = l1 + l2
    if ctx.problem == "regression":
        if strength == 0:
            return LinearRegression(fit_intercept=hp["use_bias"])
        if l1 == 0:
            return Ridge(alpha=l2, fit_intercept=hp["use_bias"], random_state=ctx.seed)
        # wd and l1 weigh the summed squared error, as Ridge's alpha does; ElasticNet's
        # alpha weighs half its mean, hence the division by the row count.
        return ElasticNet(
            alpha=strength / max(1, ctx.rows),
            l1_ratio=l1 / strength,
            fit_intercept=hp["use_bias"],
            max_iter=hp["epochs"] * 1000,  # coordinate descent: cheap iterations
            tol=hp["tol"],
            random_state=ctx.seed,
        )
    return LogisticRegression(
        C=1.0 / strength if strength else np.inf,
        l1_ratio=l1 / strength if strength else 0.0,
        solver="saga" if l1 else "lbfgs",
        fit_intercept=hp["use_bias"],
        max_iter=hp["epochs"] * 100,
        tol=hp["tol"],
        random_state=ctx.seed,
    )


register(
    Algorithm(
        name="linear-learner",
        title="Linear learner",
        problems=SUPERVISED,
        encoding="scaled",
        description="Logistic regression (binary, multiclass) or linear regression, with L1 "
        "and L2 penalties, on standardised inputs.",
        hyperparameters=(
            HP("l1", "float", 0.0, "L1 penalty (sparsity).", minimum=0),
            HP("wd", "float", 1.0, "L2 penalty (weight decay).", minimum=0),
            HP("use_bias", "bool", True, "Fit an intercept."),
            HP("epochs", "int", 10, "Passes (×100 solver iterations at most).", minimum=1),
            HP("tol", "float", 1e-4, "Stopping tolerance of the solver.", above=0),
        ),
        build=_linear,
    )
)


# --------------------------------------------------------------------------- random-forest


def _forest(ctx: FitContext) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    hp = ctx.hp
    features = hp["max_features"]
    common: dict[str, Any] = {
        "n_estimators": hp["num_trees"],
        "max_depth": hp["max_depth"],
        "min_samples_leaf": hp["min_samples_leaf"],
        "bootstrap": hp["bootstrap"],
        "n_jobs": ctx.threads,
        "random_state": ctx.seed,
    }
    if ctx.problem == "regression":
        return RandomForestRegressor(
            max_features=1.0 if features in ("auto", "all") else features, **common
        )
    return RandomForestClassifier(
        max_features="sqrt" if features == "auto" else (1.0 if features == "all" else features),
        class_weight=None if hp["class_weight"] == "none" else hp["class_weight"],
        **common,
    )


register(
    Algorithm(
        name="random-forest",
        title="Random forest",
        problems=SUPERVISED,
        encoding="ordinal",
        description="A forest of decision trees, each on a bootstrap sample of the rows.",
        hyperparameters=(
            HP("num_trees", "int", 100, "Number of trees.", minimum=1, maximum=10_000),
            HP("max_depth", "int", None, "Maximum depth of a tree (unset: unlimited).", minimum=1),
            HP("min_samples_leaf", "int", 1, "Minimum rows in a leaf.", minimum=1),
            HP(
                "max_features",
                "choice",
                "auto",
                "Columns tried per split: auto is sqrt for classes, all for regression.",
                choices=("auto", "sqrt", "log2", "all"),
            ),
            HP("bootstrap", "bool", True, "Sample rows with replacement for each tree."),
            HP(
                "class_weight",
                "choice",
                "none",
                "Weigh classes by their inverse frequency.",
                choices=("none", "balanced", "balanced_subsample"),
            ),
        ),
        build=_forest,
    )
)


# --------------------------------------------------------------------------- knn


def _knn(ctx: FitContext) -> Any:
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    hp = ctx.hp
    cls = KNeighborsRegressor if ctx.problem == "regression" else KNeighborsClassifier
    return cls(n_neighbors=hp["k"], weights=hp["weights"], metric=hp["metric"], n_jobs=ctx.threads)


register(
    Algorithm(
        name="knn",
        title="k-nearest neighbours",
        problems=SUPERVISED,
        encoding="scaled",
        description="The k nearest training rows vote (classes) or are averaged (regression).",
        hyperparameters=(
            HP("k", "int", 5, "Neighbours consulted.", minimum=1, maximum=10_000),
            HP(
                "weights",
                "choice",
                "uniform",
                "How neighbours count.",
                choices=("uniform", "distance"),
            ),
            HP(
                "metric",
                "choice",
                "euclidean",
                "Distance between rows.",
                choices=("euclidean", "manhattan", "cosine"),
            ),
        ),
        build=_knn,
    )
)


# --------------------------------------------------------------------------- mlp


def _mlp(ctx: FitContext) -> Any:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    hp = ctx.hp
    cls = MLPRegressor if ctx.problem == "regression" else MLPClassifier
    network = cls(
        hidden_layer_sizes=tuple(hp["hidden_layer_sizes"]),
        activation=hp["activation"],
        alpha=hp["alpha"],
        batch_size=hp["mini_batch_size"],
        learning_rate_init=hp["learning_rate"],
        max_iter=hp["epochs"],
        early_stopping=hp["early_stopping"],
        random_state=ctx.seed,
    )
    if ctx.problem == "regression" and hp["normalize_label"]:
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.preprocessing import StandardScaler

        return TransformedTargetRegressor(regressor=network, transformer=StandardScaler())
    return network


def _mlp_fit(model: Any, x: Any, y: Any, ctx: FitContext) -> None:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    network = getattr(model, "regressor", model)
    # With early stopping scikit-learn trains on 90% of the rows: the batch fits in those.
    rows = int(x.shape[0] * (0.9 if network.early_stopping else 1.0))
    network.set_params(batch_size=max(1, min(network.batch_size, rows)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # epochs is the user's choice
        model.fit(x, y)
    network = getattr(model, "regressor_", model)
    scores = getattr(network, "validation_scores_", None) or []
    for epoch, loss in enumerate(network.loss_curve_):
        values = {"train:loss": float(loss)}
        if epoch < len(scores) and scores[epoch] is not None:
            # The score on the 10% early stopping holds out, not on the validation channel.
            values["holdout:score"] = float(scores[epoch])
        ctx.on_iteration(epoch, values)


register(
    Algorithm(
        name="mlp",
        title="Multilayer perceptron",
        problems=SUPERVISED,
        encoding="scaled",
        description="A feed-forward neural network trained with Adam.",
        hyperparameters=(
            HP(
                "hidden_layer_sizes",
                "ints",
                [100],
                "Units per hidden layer, e.g. 64,32.",
                minimum=1,
            ),
            HP(
                "activation",
                "choice",
                "relu",
                "Hidden units' activation.",
                choices=("relu", "tanh", "logistic"),
            ),
            HP("learning_rate", "float", 0.001, "Adam's step size.", above=0, maximum=10),
            HP("epochs", "int", 200, "Passes over the data at most.", minimum=1, maximum=100_000),
            HP("mini_batch_size", "int", 200, "Rows per gradient step.", minimum=1),
            HP("alpha", "float", 1e-4, "L2 penalty.", minimum=0),
            HP("early_stopping", "bool", False, "Hold out 10% and stop when it stops improving."),
            HP("normalize_label", "bool", True, "Regression: learn the standardised target."),
        ),
        build=_mlp,
        fit=_mlp_fit,
    )
)


# --------------------------------------------------------------------------- kmeans


def _kmeans(ctx: FitContext) -> Any:
    from sklearn.cluster import KMeans

    hp = ctx.hp
    return KMeans(
        n_clusters=hp["k"],
        init="k-means++" if hp["init_method"] == "kmeans++" else "random",
        n_init=hp["n_init"],
        max_iter=hp["max_iterations"],
        tol=hp["tol"],
        random_state=ctx.seed,
    )


register(
    Algorithm(
        name="kmeans",
        title="k-means",
        problems=("clustering",),
        encoding="scaled",
        description="Groups rows into k clusters around their centres.",
        hyperparameters=(
            HP("k", "int", 8, "Number of clusters.", minimum=1, maximum=100_000),
            HP(
                "init_method",
                "choice",
                "kmeans++",
                "How the first centres are picked.",
                choices=("kmeans++", "random"),
            ),
            HP("max_iterations", "int", 300, "Iterations per run at most.", minimum=1),
            HP("n_init", "int", 1, "Runs from different starts; the best is kept.", minimum=1),
            HP("tol", "float", 1e-4, "Convergence tolerance.", above=0),
        ),
        build=_kmeans,
    )
)


# --------------------------------------------------------------------------- pca


def _pca(ctx: FitContext) -> Any:
    from sklearn.decomposition import PCA

    hp = ctx.hp
    return PCA(
        n_components=hp["num_components"],
        svd_solver="randomized" if hp["algorithm_mode"] == "randomized" else "full",
        random_state=ctx.seed,
    )


register(
    Algorithm(
        name="pca",
        title="Principal component analysis",
        problems=("dimensionality_reduction",),
        encoding="scaled",
        description="Projects rows on the directions of greatest variance.",
        hyperparameters=(
            HP("num_components", "int", 2, "Components kept.", minimum=1, maximum=10_000),
            HP(
                "algorithm_mode",
                "choice",
                "regular",
                "regular: exact SVD; randomized: faster on wide data.",
                choices=("regular", "randomized"),
            ),
        ),
        build=_pca,
    )
)


# --------------------------------------------------------------------------- isolation-forest


def _isolation(ctx: FitContext) -> Any:
    from sklearn.ensemble import IsolationForest

    hp = ctx.hp
    return IsolationForest(
        n_estimators=hp["num_trees"],
        max_samples=hp["num_samples_per_tree"],
        contamination=hp["anomaly_rate"] if hp["anomaly_rate"] is not None else "auto",
        n_jobs=ctx.threads,
        random_state=ctx.seed,
    )


def _isolation_fit(model: Any, x: Any, y: Any, ctx: FitContext) -> None:
    model.set_params(max_samples=min(model.max_samples, len(x)))
    model.fit(x)


register(
    Algorithm(
        name="isolation-forest",
        title="Isolation forest",
        problems=("anomaly_detection",),
        encoding="ordinal",
        description="Anomaly scores: how easily random trees isolate a row (higher is more "
        "anomalous). With a 0/1 target, its AUC and F1 are measured.",
        hyperparameters=(
            HP("num_trees", "int", 100, "Number of trees.", minimum=1, maximum=10_000),
            HP("num_samples_per_tree", "int", 256, "Rows each tree is built on.", minimum=2),
            HP(
                "anomaly_rate",
                "float",
                None,
                "Expected share of anomalies, for flagging rows (unset: the forest's own cut).",
                above=0,
                maximum=0.5,
            ),
        ),
        build=_isolation,
        fit=_isolation_fit,
    )
)


# --------------------------------------------------------------------------- text-classifier


def _text(ctx: FitContext) -> Any:
    from sklearn.linear_model import LogisticRegression

    hp = ctx.hp
    return LogisticRegression(C=1.0 / hp["l2"], max_iter=hp["epochs"] * 100, random_state=ctx.seed)


register(
    Algorithm(
        name="text-classifier",
        title="Text classifier",
        problems=CLASSIFICATION,
        encoding="text",
        description="Classifies a text column from its words and word n-grams (TF-IDF and "
        "logistic regression).",
        hyperparameters=(
            HP("text_column", "string", None, "The text to classify (unset: the longest text)."),
            HP(
                "word_ngrams",
                "int",
                2,
                "Longest run of words used as a feature.",
                minimum=1,
                maximum=5,
            ),
            HP("min_count", "int", 1, "Ignore words seen in fewer rows.", minimum=1),
            HP("max_features", "int", 200_000, "Vocabulary size at most.", minimum=1),
            HP("l2", "float", 0.1, "L2 penalty.", above=0),
            HP("epochs", "int", 10, "Passes (×100 solver iterations at most).", minimum=1),
        ),
        build=_text,
    )
)


# --------------------------------------------------------------------------- factorization machines


def _fm(ctx: FitContext) -> Any:
    from training.engine.fm import FactorizationMachine

    hp = ctx.hp
    return FactorizationMachine(
        task="regression" if ctx.problem == "regression" else "binary",
        num_factors=hp["num_factors"],
        epochs=hp["epochs"],
        mini_batch_size=hp["mini_batch_size"],
        learning_rate=hp["learning_rate"],
        linear_wd=hp["linear_wd"],
        factors_wd=hp["factors_wd"],
        factors_init_sigma=hp["factors_init_sigma"],
        random_state=ctx.seed,
    )


def _fm_fit(model: Any, x: Any, y: Any, ctx: FitContext) -> None:
    name = "train:rmse" if ctx.problem == "regression" else "train:logloss"
    model.fit(x, y, on_epoch=lambda epoch, loss: ctx.on_iteration(epoch, {name: loss}))


register(
    Algorithm(
        name="factorization-machines",
        title="Factorization machines",
        problems=("binary_classification", "regression"),
        encoding="sparse",
        description="A recommender: ratings or clicks from sparse pairs such as user × item "
        "(each category one-hot), with a latent factor per value and their interactions.",
        hyperparameters=(
            HP("num_factors", "int", 16, "Latent factors per value.", minimum=1, maximum=1024),
            HP("epochs", "int", 20, "Passes over the data.", minimum=1, maximum=10_000),
            HP("mini_batch_size", "int", 1024, "Rows per step.", minimum=1),
            HP("learning_rate", "float", 0.01, "Adam's step size.", above=0, maximum=10),
            HP("linear_wd", "float", 1e-4, "L2 penalty of the linear weights.", minimum=0),
            HP("factors_wd", "float", 1e-4, "L2 penalty of the factors.", minimum=0),
            HP("factors_init_sigma", "float", 0.01, "Spread of the factors at start.", above=0),
        ),
        build=_fm,
        fit=_fm_fit,
    )
)


# --------------------------------------------------------------------------- forecasting


def _forecaster(ctx: FitContext) -> Any:
    from training.engine.forecast import LagForecaster

    hp = ctx.hp
    return LagForecaster(
        time_column=hp["time_column"] or "",
        series_column=hp["series_column"] or "",
        context_length=hp["context_length"],
        prediction_length=hp["prediction_length"],
        num_round=hp["num_round"],
        eta=hp["eta"],
        max_depth=hp["max_depth"],
        threads=ctx.threads,
        seed=ctx.seed,
    )


register(
    Algorithm(
        name="forecasting",
        title="Forecasting",
        problems=("forecasting",),
        encoding="series",
        description="Forecasts many time series with one gradient-boosted model on each "
        "series' recent values, the calendar and the series' name; several steps ahead, "
        "one at a time.",
        hyperparameters=(
            HP("time_column", "string", None, "The column of times (required)."),
            HP("series_column", "string", None, "The column naming each series (unset: one)."),
            HP("prediction_length", "int", 7, "Steps forecast ahead.", minimum=1, maximum=10_000),
            HP(
                "context_length", "int", 14, "Past values each step reads.", minimum=1, maximum=1000
            ),
            HP("num_round", "int", 200, "Boosting rounds.", minimum=1, maximum=100_000),
            HP("eta", "float", 0.1, "Learning rate.", above=0, maximum=1),
            HP("max_depth", "int", 6, "Maximum depth of a tree.", minimum=1, maximum=64),
        ),
        build=_forecaster,
    )
)
