"""Brute-force oracle for marginalized discrete variables (like ``pymc.testing.check_logp``).

Give the *joint* log density log p(y, z) of the data and a configuration z of
the discrete variables, written straight from the model's definition, and the
space of z; this module enumerates every configuration with
``itertools.product`` and returns what the marginalizers should compute:

- :func:`enumerate_loglik`: log p(y) = logsumexp_z log p(y, z);
- :func:`enumerate_posterior`: P(z_v[idx] = k | y) for each variable v, every index;
- :func:`enumerate_expectation`: E[f(z) | y] for any statistic f (e.g. pairwise
  indicators for transition tables);
- :func:`enumerate_mode`: argmax_z p(y, z) (Viterbi path);
- :func:`check_marginal`: assert a marginalizer's loglik (and posteriors) match.

``space`` maps a variable name to ``(shape, n_categories)``; the joint
function receives keyword integer arrays of those shapes. The cost is
n_categories ** (total size), so keep cases tiny and enumerate one independent
unit (person, cluster) at a time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping

import numpy as np
from scipy.special import logsumexp, ndtr

Space = Mapping[str, tuple[int | tuple[int, ...], int]]
JointLogp = Callable[..., float]


def _shape(shape: int | tuple[int, ...]) -> tuple[int, ...]:
    return (shape,) if isinstance(shape, int) else tuple(shape)


def configurations(space: Space) -> Iterator[dict[str, np.ndarray]]:
    """Every configuration of the discrete variables, as dicts name -> int array."""
    names = list(space)
    shapes = [_shape(space[name][0]) for name in names]
    sizes = [int(np.prod(shape, dtype=int)) for shape in shapes]
    levels = [range(space[name][1]) for name, size in zip(names, sizes) for _ in range(size)]
    for flat in itertools.product(*levels):
        config, start = {}, 0
        for name, shape, size in zip(names, shapes, sizes):
            config[name] = np.array(flat[start:start + size], dtype=int).reshape(shape)
            start += size
        yield config


def _weighted(joint_logp: JointLogp, space: Space) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
    configs = list(configurations(space))
    logps = np.array([joint_logp(**config) for config in configs], dtype=float)
    return configs, logps


def enumerate_loglik(joint_logp: JointLogp, space: Space) -> float:
    """log p(y) = logsumexp over every configuration z of ``joint_logp(**z)``."""
    return float(logsumexp(_weighted(joint_logp, space)[1]))


def enumerate_expectation(joint_logp: JointLogp, space: Space,
                          statistic: Callable[..., np.ndarray]) -> np.ndarray:
    """E[statistic(**z) | y] under the posterior p(z | y) proportional to exp(joint_logp(**z))."""
    configs, logps = _weighted(joint_logp, space)
    weights = np.exp(logps - logsumexp(logps))
    return sum(w * np.asarray(statistic(**config), dtype=float) for w, config in zip(weights, configs))


def one_hot(values: np.ndarray, n_categories: int) -> np.ndarray:
    """Integer array (...) -> indicators (..., n_categories)."""
    return (np.asarray(values)[..., None] == np.arange(n_categories)).astype(float)


def enumerate_posterior(joint_logp: JointLogp, space: Space) -> dict[str, np.ndarray]:
    """Exact posterior marginals: name -> array (*shape, n_categories) of P(z_name[idx] = k | y)."""
    return {name: enumerate_expectation(joint_logp, space, lambda name=name, n=n, **z: one_hot(z[name], n))
            for name, (_, n) in space.items()}


def enumerate_mode(joint_logp: JointLogp, space: Space) -> dict[str, np.ndarray]:
    """The most probable configuration argmax_z p(y, z)."""
    configs, logps = _weighted(joint_logp, space)
    return configs[int(np.argmax(logps))]


def check_marginal(loglik: float, joint_logp: JointLogp, space: Space,
                   posteriors: Mapping[str, np.ndarray] | None = None, atol: float = 1e-8) -> None:
    """Assert a marginalizer's log-likelihood (and posterior marginals, by name) equal brute force."""
    np.testing.assert_allclose(loglik, enumerate_loglik(joint_logp, space), atol=atol, rtol=1e-10)
    exact = enumerate_posterior(joint_logp, space) if posteriors else {}
    for name, value in (posteriors or {}).items():
        np.testing.assert_allclose(value, exact[name], atol=atol, err_msg=f"posterior of {name}")


# The standard normal density and CDF by scipy.stats.norm's own formulas (norm._pdf: exp(-x**2/2) /
# sqrt(2 pi); norm._cdf: scipy.special.ndtr), the same numbers without norm.pdf's argument handling:
# 30-120 us per scalar call, which dominated the quadrature oracles that call them 1e4-1e6 times.
_NORM_PDF_C = np.sqrt(2 * np.pi)


def std_normal_pdf(x):
    """phi(x), equal to ``scipy.stats.norm.pdf(x)``, for the integrands of quadrature oracles."""
    return np.exp(-np.square(x) / 2.0) / _NORM_PDF_C


def std_normal_cdf(x):
    """Phi(x), equal to ``scipy.stats.norm.cdf(x)`` (both are ``scipy.special.ndtr``)."""
    return ndtr(x)
