"""Mplus-style random starts (``STARTS = N M``) for ML and MAP.

N random starting sets (drawn by the model's ``random_start``) each get a
short optimization; the M best are then optimized to convergence. The best
solution is reported with how many of the M final runs reached it (within
``tol`` in log-likelihood), so users see whether the best LL was replicated.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from .objective import flat_model


@dataclass
class StartReport:
    """Outcome of the random starts, as Mplus prints it."""

    n_initial: int
    n_final: int
    final_values: np.ndarray  # objective (LL or log posterior) of each final run, best first
    n_replicated: int
    tol: float

    def __str__(self) -> str:
        vals = ", ".join(f"{v:.4f}" for v in self.final_values[: min(5, len(self.final_values))])
        return (
            f"{self.n_initial} initial stage starts, {self.n_final} final stage optimizations; "
            f"best value reached by {self.n_replicated} of {self.n_final} (tol {self.tol:g}); best: {vals}"
        )


@dataclass
class Optimum:
    theta: np.ndarray
    value: float  # maximized objective (log-likelihood or log-posterior)
    converged: bool
    report: StartReport
    all_thetas: list = field(default_factory=list)
    message: str = ""  # the optimizer's own word on the best run (e.g. why it stopped)
    iterations: int = 0


def parse_starts(starts) -> tuple[int, int]:
    if isinstance(starts, (tuple, list)):
        if len(starts) != 2:
            raise ValueError("starts must be an int N or a pair (N, M), like Mplus STARTS = N M.")
        n, m = int(starts[0]), int(starts[1])
    else:
        n = int(starts)
        m = max(1, n // 4)
    if n < 1 or m < 1 or m > n:
        raise ValueError(f"starts=({n}, {m}) is invalid: need N >= M >= 1.")
    return n, m


def multistart(mm, *args, **kwargs) -> Optimum:
    """Maximize the log-likelihood or log-posterior; see :func:`_multistart`.

    BLAS is held to one thread meanwhile: PyTensor (pip builds) falls back to
    NumPy's OpenBLAS for matrix products, and its thread start-up on every
    small product made each evaluation ~10x slower on 2 cores (measured in
    benchmarks/bench_ml_stepmix.py).
    """
    from threadpoolctl import threadpool_limits
    from ..relabel import order_by_size
    with threadpool_limits(limits=1, user_api="blas"):
        opt = _multistart(mm, *args, **kwargs)
        kind = args[0] if args else kwargs.get("kind", "loglik")
        return order_by_size(mm, opt, kind, integration=kwargs.get("integration"))  # one labeling (issue 13)


def _multistart(mm, kind: str = "loglik", starts=20, seed=None, initial_iterations: int = 25,
               tol: float = 1e-3, max_iterations: int = 5000, warn_unreplicated: bool = True,
               integration: dict | None = None) -> Optimum:
    """Maximize the log-likelihood (``kind="loglik"``) or log-posterior (``"posterior"``).

    ``integration`` overrides the model's quadrature for random effects
    (``{"method": "trapezoid", "points": 30}``).
    """
    n_initial, n_final = parse_starts(starts)
    flat = flat_model(mm, integration)
    fun = flat.value_and_grad(kind)
    rng = np.random.default_rng(seed)
    stage1 = []
    for _ in range(n_initial):
        theta0 = flat.to_theta(mm.random_start(rng))
        flat.adapt(theta0)
        res = minimize(fun, theta0, jac=True, method="L-BFGS-B", bounds=flat.bounds,
                       options={"maxiter": initial_iterations})
        stage1.append((res.fun, res.x))
    stage1.sort(key=lambda t: t[0])
    finals = []
    full = {"maxiter": max_iterations, "maxfun": 4 * max_iterations, "ftol": 1e-13, "gtol": 1e-7}
    for _, theta in stage1[:n_final]:
        flat.adapt(theta)
        res = minimize(fun, theta, jac=True, method="L-BFGS-B", bounds=flat.bounds, options=full)
        for _ in range(10 if flat.adaptive is not None else 0):  # re-center the adaptive rule, re-optimize
            flat.adapt(res.x)
            again = minimize(fun, res.x, jac=True, method="L-BFGS-B", bounds=flat.bounds, options=full)
            converged = abs(again.fun - res.fun) < 1e-8
            res = again
            if converged:
                break
        if flat.adaptive is not None:
            # report the objective with the rule centered at the solution itself: with nodes held
            # fixed, the optimizer can otherwise profit from the rule's error
            flat.adapt(res.x)
            res.fun = fun(res.x)[0]
        res.adapted_center = None if flat.adaptive is None else (
            flat.adaptive.center.get_value().copy(), flat.adaptive.scale.get_value().copy())
        finals.append(res)
    finals.sort(key=lambda r: r.fun)
    values = np.array([-r.fun for r in finals])
    n_rep = int(np.sum(values >= values[0] - tol))
    report = StartReport(n_initial, n_final, values, n_rep, tol)
    if warn_unreplicated and n_final > 1 and n_rep < 2:
        warnings.warn(
            f"the best {'log-likelihood' if kind == 'loglik' else 'log-posterior'} "
            f"{values[0]:.4f} was reached by only one of {n_final} final-stage optimizations; "
            "it may be a local optimum: increase starts, e.g. starts=(100, 20).",
            UserWarning,
            stacklevel=3,
        )
    best = finals[0]
    if flat.adaptive is not None:  # leave the rule at the best solution's clusters (for SEs)
        flat.adaptive.update(*best.adapted_center)
    return Optimum(theta=best.x, value=-best.fun, converged=bool(best.success), report=report,
                   all_thetas=[r.x for r in finals], message=str(getattr(best, "message", "")),
                   iterations=int(getattr(best, "nit", 0)))
