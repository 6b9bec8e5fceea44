"""A factorization machine: ``y = w0 + Σ w_i x_i + Σ_{i<j} <v_i, v_j> x_i x_j`` over a
sparse input (one-hot users, items and other categories, scaled numbers), the model of
SageMaker's ``factorization-machines``. Trained with Adam on mini-batches of a scipy
sparse matrix; the pairwise term is computed in ``O(nnz · factors)`` with Rendle's
identity ``½ Σ_f [(Σ_i v_if x_i)² − Σ_i v_if² x_i²]``.

It learns ratings (squared error) or clicks (logistic loss), and is a scikit-learn
estimator, so the saved pipeline holds it beside its preprocessing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator


class FactorizationMachine(BaseEstimator):  # type: ignore[misc]
    def __init__(
        self,
        *,
        task: str = "regression",
        num_factors: int = 16,
        epochs: int = 20,
        mini_batch_size: int = 1024,
        learning_rate: float = 0.01,
        linear_wd: float = 1e-4,
        factors_wd: float = 1e-4,
        factors_init_sigma: float = 0.01,
        random_state: int = 0,
    ) -> None:
        self.task = task
        self.num_factors = num_factors
        self.epochs = epochs
        self.mini_batch_size = mini_batch_size
        self.learning_rate = learning_rate
        self.linear_wd = linear_wd
        self.factors_wd = factors_wd
        self.factors_init_sigma = factors_init_sigma
        self.random_state = random_state

    def _raw(self, x: sp.csr_matrix) -> np.ndarray:
        xv = x @ self.factors_
        x2v2 = x.multiply(x) @ (self.factors_**2)
        pairwise = 0.5 * (xv**2 - x2v2).sum(axis=1)
        return np.asarray(self.bias_ + x @ self.weights_ + pairwise).ravel()

    def fit(
        self,
        x: Any,
        y: Any,
        on_epoch: Callable[[int, float], None] | None = None,
    ) -> FactorizationMachine:
        x = sp.csr_matrix(x, dtype="float64")
        y = np.asarray(y, dtype="float64")
        rng = np.random.default_rng(self.random_state)
        n, d = x.shape
        self.bias_ = float(y.mean()) if self.task == "regression" else 0.0
        self.weights_ = np.zeros(d)
        self.factors_ = rng.normal(0, self.factors_init_sigma, (d, self.num_factors))
        params = [np.array([self.bias_]), self.weights_, self.factors_]
        moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
        beta1, beta2, eps, t = 0.9, 0.999, 1e-8, 0
        batch = max(1, min(self.mini_batch_size, n))
        for epoch in range(self.epochs):
            order = rng.permutation(n)
            total = 0.0
            for start in range(0, n, batch):
                rows = order[start : start + batch]
                xb, yb = x[rows], y[rows]
                self.bias_ = float(params[0][0])
                raw = self._raw(xb)
                if self.task == "regression":
                    error = raw - yb
                    total += float((error**2).sum())
                else:
                    prob = 1 / (1 + np.exp(-np.clip(raw, -35, 35)))
                    error = prob - yb
                    total -= float(
                        (yb * np.log(prob + 1e-12) + (1 - yb) * np.log(1 - prob + 1e-12)).sum()
                    )
                g = error / len(rows)
                xv = xb @ self.factors_
                grads = [
                    np.array([g.sum()]),
                    np.asarray(xb.T @ g).ravel() + self.linear_wd * self.weights_,
                    np.asarray(xb.T @ (g[:, None] * xv))
                    - self.factors_ * np.asarray(xb.multiply(xb).T @ g).reshape(-1, 1)
                    + self.factors_wd * self.factors_,
                ]
                t += 1
                for p, grad, (m, v) in zip(params, grads, moments, strict=True):
                    m *= beta1
                    m += (1 - beta1) * grad
                    v *= beta2
                    v += (1 - beta2) * grad**2
                    step = self.learning_rate * np.sqrt(1 - beta2**t) / (1 - beta1**t)
                    p -= step * m / (np.sqrt(v) + eps)
            self.bias_ = float(params[0][0])
            loss = total / n
            if on_epoch is not None:
                on_epoch(epoch, float(np.sqrt(loss)) if self.task == "regression" else loss)
        if self.task != "regression":
            self.classes_ = np.array([0, 1])
        return self

    def predict(self, x: Any) -> np.ndarray:
        raw = self._raw(sp.csr_matrix(x, dtype="float64"))
        if self.task == "regression":
            return raw
        return (raw > 0).astype("int64")

    def predict_proba(self, x: Any) -> np.ndarray:
        raw = self._raw(sp.csr_matrix(x, dtype="float64"))
        prob = 1 / (1 + np.exp(-np.clip(raw, -35, 35)))
        return np.column_stack([1 - prob, prob])
