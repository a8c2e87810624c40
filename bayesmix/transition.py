"""Transition logits of a class chain: P(C_t = k | C_{t-1} = j, x) (paper eq. 9, 13), one table per step.

The class model of latent transition analysis after the first time point; the
first time point uses :class:`~bayesmix.class_model.ClassModel` (eq. 8).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pytensor.tensor as pt

from .class_model import full_logits
from .parameters import create
from .priors import PriorSet


class TransitionModel:
    """Multinomial logits of C_t given C_{t-1} (eq. 9), one K x (K-1) table per step, last class reference.

    ``transition_logit`` (dims ``transition, class, class_free``): row j is the
    previous class (permuted with the labels), columns the K-1 free next
    classes (reference coded, re-expressed against the new last class when
    labels are permuted). ``transition_slope`` (dims ``transition, covariate,
    class_free``): covariate effects on the next class. ``stationary``: one
    table for every step. With ``markov=False``, ``transition_lag_effect``
    (dims ``lag, class_lag, class_free``) adds the effect of the class at each
    earlier time s < t-1 (last class of s the reference) on C_t.
    """

    def __init__(self, n_classes: int, time_labels: Sequence[str], covariates: np.ndarray | None = None,
                 covariate_names: Sequence[str] = (), *, stationary: bool = False, markov: bool = True):
        self.n_classes = n_classes
        self.time_labels = list(time_labels)
        self.n_steps = len(self.time_labels) - 1
        self.step_labels = [f"{a}->{b}" for a, b in zip(self.time_labels[:-1], self.time_labels[1:])]
        self.stationary = stationary
        self.table_labels = ["all steps"] if stationary else self.step_labels
        self.step_index = np.zeros(self.n_steps, dtype=int) if stationary else np.arange(self.n_steps)
        self.covariates = covariates if covariates is not None and covariates.shape[1] else None
        self.covariate_names = list(covariate_names)
        self.markov = markov
        # (earlier time s, target time t), s < t - 1 (0-based)
        self.lags = [] if markov else [(s, t) for t in range(2, len(self.time_labels)) for s in range(t - 1)]
        self.lag_labels = [f"{self.time_labels[s]}->{self.time_labels[t]}" for s, t in self.lags]
        self.params: dict = {}

    def coords(self, labels) -> dict:
        out = {"transition": self.table_labels}
        if self.covariates is not None:
            out["covariate"] = self.covariate_names
        if self.lags:
            out["lag"] = self.lag_labels
            out["class_lag"] = list(labels[:-1])
        return out

    def build(self, priors: PriorSet) -> None:
        meta = {"class_dim": "class", "reference_coded": True}
        self.params["transition_logit"] = create(priors, "transition_logit",
                                                 dims=("transition", "class", "class_free"), class_axis=1, **meta)
        if self.covariates is not None:
            self.params["transition_slope"] = create(priors, "transition_slope",
                                                     dims=("transition", "covariate", "class_free"),
                                                     class_axis=2, bounded=False, **meta)
        if self.lags:
            # not registered as class-specific: the label aligner cannot re-express a from-reference
            self.params["transition_lag_effect"] = create(priors, "transition_lag_effect",
                                                          dims=("lag", "class_lag", "class_free"))

    def free_logits(self, offset=None, covariates=None):
        """(..., N or 1, T-1, K, K-1): logit of C_{t+1} = k (free k) given C_t = j, per step t.

        ``offset``: random intercepts alpha_(t+1) on the next class's logits, (..., N, T-1, K-1).
        ``covariates``: rows (R, P) to evaluate the logits at instead of the units'
        own (results at chosen covariate values: (..., R, T-1, K, K-1)).
        """
        tau = self.params["transition_logit"][self.step_index]  # (T-1, K, K-1)
        eta = tau[None]
        if self.covariates is not None:
            slope = self.params["transition_slope"][self.step_index]  # (T-1, P, K-1)
            x = self.covariates if covariates is None else covariates
            xb = pt.matmul(pt.as_tensor(x), slope)  # (T-1, N, K-1)
            eta = eta + pt.swapaxes(xb, 0, 1)[:, :, None, :]
        if offset is not None:
            eta = eta + offset[..., None, :]
        return eta

    def log_transition(self, offset=None, covariates=None):
        """log P(C_{t+1} = k | C_t = j), (..., N or 1, T-1, K, K) for :mod:`bayesmix.marginal.chain`.

        ``covariates``: rows (R, P) instead of the units' (:meth:`free_logits`).
        """
        return pt.special.log_softmax(full_logits(self.free_logits(offset, covariates)), axis=-1)

    def log_path_prior(self, log_initial, offset=None, covariates=None):
        """log P(path | x) over the K^T paths (..., N or 1, P), C_t given every earlier class (markov=False).

        ``covariates``: rows (R, P) instead of the units' (:meth:`free_logits`).
        """
        from .structure.chain import paths
        k, n_times = self.n_classes, len(self.time_labels)
        all_paths = paths(k, n_times)
        eta = self.free_logits(offset, covariates)  # (..., N or 1, T-1, K, K-1)
        lag = self.params.get("transition_lag_effect")
        if lag is not None:
            lag = full_logits(lag, axis=1)  # (L, K, K-1): the last class of the earlier time is the reference
        out = log_initial[..., all_paths[:, 0]]
        for step in range(n_times - 1):
            t = step + 1
            logits = eta[..., step, :, :][..., all_paths[:, step], :]  # (..., N or 1, P, K-1)
            for pos, (s, target) in enumerate(self.lags):
                if target == t:
                    logits = logits + lag[pos][all_paths[:, s]]
            log_probs = pt.special.log_softmax(full_logits(logits), axis=-1)  # (..., P, K)
            chosen = np.eye(k)[all_paths[:, t]]  # (P, K)
            out = out + (log_probs * chosen).sum(axis=-1)
        return out

    def random_start(self, rng: np.random.Generator) -> dict:
        k = self.n_classes
        full = rng.uniform(-1.0, 1.0, size=(len(self.table_labels), k, k)) + 2.0 * np.eye(k)
        out = {"transition_logit": full[..., :-1] - full[..., -1:]}
        if self.covariates is not None:
            out["transition_slope"] = np.zeros((len(self.table_labels), self.covariates.shape[1], k - 1))
        if self.lags:
            out["transition_lag_effect"] = rng.uniform(-0.3, 0.3, size=(len(self.lags), k - 1, k - 1))
        return out
