"""Integrators over the same conditional likelihood: NUTS sampling, ML/MAP optimization, Laplace.

- :mod:`.objective` -- the model's graphs as compiled functions of one flat
  unconstrained parameter vector (value, gradient, Hessian, per-unit scores);
- :mod:`.optimize` -- Mplus-style multi-start optimization;
- :mod:`.ml` -- maximum likelihood / MAP results with standard errors;
- :mod:`.laplace` -- Gaussian approximation at the mode;
- :mod:`.sampling` -- NUTS backends (PyMC, nutpie, numpyro, blackjax);
- :mod:`.labels` -- alignment of class labels across draws and chains.
"""
