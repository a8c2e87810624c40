"""Exact marginalization of discrete class variables (DESIGN.md, layer 3).

One module per strategy; this façade re-exports them.

- :mod:`.within` -- one class per unit: logsumexp over classes (eq. 4).
"""

from .within import marginal_loglik, posterior_class_probabilities

__all__ = ["marginal_loglik", "posterior_class_probabilities"]
