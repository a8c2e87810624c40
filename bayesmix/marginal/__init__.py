"""Exact marginalization of discrete class variables (DESIGN.md, layer 3).

One module per strategy; this façade re-exports them.

- :mod:`.within` -- one class per unit: logsumexp over classes (eq. 4).
- :mod:`.between` -- one class per cluster: the cluster's unit log-likelihoods
  summed inside the logsumexp (eq. 16-17); nested with ``within`` for
  within and between classes together (eq. 24-26).
"""

from . import between, within
from .within import marginal_loglik, posterior_class_probabilities

__all__ = ["between", "within", "marginal_loglik", "posterior_class_probabilities"]
