"""Exact marginalization of the discrete class variables (layer 3 of the design in ARCHITECTURE.md).

One module per strategy, each owning both halves (as pymc-extras'
``marginalized_conditional``): ``loglik`` (the discrete classes summed out in
log space) and the posterior of the classes given the data. All are PyTensor
graphs that broadcast over leading axes (random effects, quadrature nodes,
draws); adding a strategy means adding a module.

- :mod:`.within` -- one class per unit: logsumexp over c (eq. 3-4).
- :mod:`.between` -- one class per cluster: the units' log-likelihoods summed inside the logsumexp (eq. 16-17).
- :mod:`.nested` -- within class C_ij predicted by between class D_j: within per d, then between (eq. 22-26).
- :mod:`.item` -- grade of membership, one class per item response: logsumexp per item (eq. 27-30).
- :mod:`.chain` -- latent transition analysis, a Markov chain of classes: forward-backward (eq. 6-9).
- :mod:`.logit_normal` -- two item-level classes with a logit-normal membership, classes summed and the
  membership integrated exactly (Bernstein form; FMA-GoM, eq. 38-41). Its posteriors stay on the grid of :mod:`.item`.
"""

from . import between, chain, item, logit_normal, nested, within
from .within import posterior_class_probabilities

__all__ = ["between", "chain", "item", "logit_normal", "nested", "within", "posterior_class_probabilities"]
