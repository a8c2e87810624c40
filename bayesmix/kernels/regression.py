"""Regression kernel: a normal linear regression within each class (paper eq. 19).

    [Y_ij | C = c] = mu_cj + beta_cj' X_ij + eps_ij,   eps_ij ~ N(0, theta_c)

with class-specific fixed effects mu_c (``regression_intercept``), beta_c
(``regression_slope``) and residual SD sqrt(theta_c) (``residual_sd``; one
value for all classes with ``equal_variances=True``, as in the paper's
section 5 simulations). Cluster random effects u_j (eq. 5) enter the
intercept and slopes as mu_cj = mu_c + u0_j and beta_cj = beta_c + u1_j:
they are the same for every class, so they reach :meth:`RegressionKernel.loglik`
as the kernels' per-unit ``shift`` of the linear predictor (..., N, 1, 1):
:meth:`RegressionKernel.random_shift` turns the units' random-effect values
(..., N, R) into it with the random-effect design (1 for the intercept,
X_ijp for a random slope of predictor p).

The kernel follows the :class:`bayesmix.kernels.ItemKernel` interface
(``build``, ``loglik`` of shape (..., N, K), ``profile_rows``,
``random_start``, ``class_axis``, ``coords``), so class profiles, label
alignment and ML standard errors work as for the LCA item kernels. Leading
axes of the parameters (draws) or of the offset (quadrature nodes) broadcast.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from ..parameters import create
from ..priors import PriorSet
from .base import ItemKernel, sample_normal

_LOG_2PI = float(np.log(2 * np.pi))


class RegressionKernel(ItemKernel):
    """One continuous outcome regressed on unit-level predictors within each class (eq. 19)."""

    kind = "regression"

    def __init__(self, outcome: str, y: np.ndarray, x: np.ndarray, predictor_names, *,
                 random_design: np.ndarray | None = None, random_labels=(), equal_variances: bool = True):
        self.items = []
        self.names = [outcome]
        self.outcome = outcome
        self.link = None
        self.params = {}
        self.class_axis = {}
        self.fixed = {}
        self.y = np.asarray(y, dtype=float)
        self.x = np.asarray(x, dtype=float).reshape(len(self.y), -1)
        self.predictor_names = list(predictor_names)
        self.random_design = None if random_design is None or random_design.shape[1] == 0 else random_design
        self.random_labels = list(random_labels)
        self.equal_variances = equal_variances
        self.y_mean = float(self.y.mean())
        self.y_sd = float(self.y.std()) + 1e-12
        self.x_sd = self.x.std(axis=0) + 1e-12
        # least-squares coefficients: centre of the random starts
        design = np.column_stack([np.ones(len(self.y)), self.x])
        coef, *_ = np.linalg.lstsq(design, self.y, rcond=None)
        self.ols_intercept, self.ols_slope = float(coef[0]), coef[1:]

    @property
    def n_random(self) -> int:
        return 0 if self.random_design is None else self.random_design.shape[1]

    def coords(self) -> dict:
        return {"predictor": self.predictor_names}

    def build(self, priors: PriorSet, ordered_item: str | None = None, fixed: dict | None = None) -> None:
        """Class-specific intercepts and slopes, residual SD; data-scaled default priors."""
        fixed = fixed or {}
        klass = {"class_axis": 0, "class_dim": "class"}
        intercept = create(priors, "regression_intercept", dims="class", fixed=fixed.get("regression_intercept"),
                           prior={"mu": self.y_mean, "sigma": 2 * self.y_sd}, bounded=False, **klass)
        slope = create(priors, "regression_slope", dims=("class", "predictor"), fixed=fixed.get("regression_slope"),
                       prior={"mu": 0.0, "sigma": 2 * self.y_sd / self.x_sd}, bounded=False, **klass)
        sd_dims = None if self.equal_variances else "class"
        sd = create(priors, "residual_sd", dims=sd_dims, fixed=fixed.get("residual_sd"),
                    prior={"sigma": 2 * self.y_sd}, feature_scale=self.y_sd, feature_log=True,
                    **({} if self.equal_variances else klass))
        self.params = {"regression_intercept": intercept, "regression_slope": slope, "residual_sd": sd}
        self.class_axis = {"regression_intercept": 0, "regression_slope": 0}
        if not self.equal_variances:
            self.class_axis["residual_sd"] = 0

    def random_shift(self, offset):
        """Units' random-effect values (..., N, R), ordered as ``random_labels`` -> shift (..., N, 1, 1)."""
        if self.random_design is None:
            raise ValueError("this regression kernel has no random effects, so it takes no offset.")
        return (offset * pt.as_tensor(self.random_design)).sum(axis=-1)[..., None, None]

    def mean(self, params: dict | None = None):
        """E[Y_ij | C = c] without random effects: (..., N, K)."""
        p = params or self.params
        mu = p["regression_intercept"][..., None, :]
        return mu + pt.matmul(pt.as_tensor(self.x), pt.swapaxes(p["regression_slope"], -1, -2))

    def _sd(self, p):
        sd = p["residual_sd"]
        return sd[..., None, None] if self.equal_variances else sd[..., None, :]

    def loglik_by_item(self, params: dict | None = None, shift=None):
        """log N(y_ij | mu_c + beta_c' x_ij + shift, theta_c): (..., N, 1, K).

        ``shift`` (..., N, 1, 1 or K), e.g. :meth:`random_shift` of the cluster
        random effects u0_j + u1_j' x_ij (eq. 5, 18).
        """
        p = params or self.params
        sd = self._sd(p)
        mean = self.mean(p)
        if shift is not None:
            mean = mean + shift[..., 0, :]
        resid = (pt.as_tensor(self.y)[:, None] - mean) / sd
        return (-0.5 * _LOG_2PI - pt.log(sd) - 0.5 * resid**2)[..., None, :]

    @property
    def observed(self) -> np.ndarray:
        """(N, 1): the outcome is observed for every unit."""
        return np.ones((len(self.y), 1))

    def latent_shift(self, latent, z):
        """The cluster random effects u0_j + u1_j' x_ij (eq. 5, 18) as a shift (N, 1, 1); None without them."""
        if not self.n_random:
            return None
        return self.random_shift(latent.unit_values(z)[..., : self.n_random])

    def simulation_graphs(self, shift=None):
        """``mean`` (N, 1, K) with the random effects' shift and ``sd`` (1, 1, K)."""
        mean = self.mean()  # (N, K)
        if shift is not None:
            mean = mean + shift[..., 0, 0][:, None]
        sd = self._sd(self.params) + pt.zeros_like(mean[:1])  # (1, K)
        return {"mean": mean[:, None, :], "sd": sd[:, None, :]}

    def sample(self, rng, graphs, classes, columns):
        """Y_ij = mu_cj + beta_cj' x_ij + eps_ij (eq. 19)."""
        return sample_normal(rng, graphs, classes, columns)

    def profile_rows(self, params: dict | None = None):
        """Class profile rows (..., K, R): intercept, one slope per predictor, residual SD."""
        p = params or self.params
        intercept = p["regression_intercept"]
        sd = p["residual_sd"]
        sd = pt.ones_like(intercept) * (sd[..., None] if self.equal_variances else sd)
        table = pt.concatenate([intercept[..., None], p["regression_slope"], sd[..., None]], axis=-1)
        rows = ([(self.outcome, "intercept")] + [(self.outcome, f"slope[{n}]") for n in self.predictor_names]
                + [(self.outcome, "residual_sd")])
        return table, rows

    def random_start(self, rng: np.random.Generator, n_classes: int) -> dict:
        intercept = self.ols_intercept + rng.uniform(-1.0, 1.0, size=n_classes) * self.y_sd
        slope = self.ols_slope + rng.uniform(-0.5, 0.5, size=(n_classes, self.x.shape[1])) * self.y_sd / self.x_sd
        sd = self.y_sd * rng.uniform(0.5, 1.0, size=None if self.equal_variances else n_classes)
        return {"regression_intercept": intercept, "regression_slope": slope, "residual_sd": np.asarray(sd)}
