"""The latent transition model object (sections 3-4): :class:`LTAModel`, result methods by time point."""

from __future__ import annotations

import warnings

import pandas as pd

from ...model import MixtureModel


class LTAModel(MixtureModel):
    """A latent transition model: :class:`~bayesmix.MixtureModel` plus results per time point (``bm.lta``).

    ``class_probabilities`` / ``class_proportions`` / ``cluster_class_proportions``
    are those of time 1 (C_1); the methods below give every time point. Every
    result takes a fit: an ML result (estimates with delta-method SEs and
    intervals), a MAP result, or a posterior DataTree (``sample``,
    ``fit_laplace``: posterior means and intervals).

    Attributes
    ----------
    times, n_times, items_by_time
        The time points and their item columns.
    options : dict
        Factory options (``markov``, ``invariant_measurement``, ``random_intercepts`` ...).

    Examples
    --------
    >>> sai = bm.datasets.load("sai_lta")                                     # doctest: +SKIP
    >>> items = {t: [f"{i}_{t}" for i in ("tense", "worrying", "anxious", "nervous", "jittery")]
    ...          for t in ("t1", "t2")}                                      # doctest: +SKIP
    >>> m = bm.lta(sai, items, n_classes=2)                                   # doctest: +SKIP
    >>> ml = m.fit_ml(seed=1)                                                 # doctest: +SKIP
    >>> m.transition_matrices(ml)                                             # doctest: +SKIP
    """

    def __repr__(self) -> str:
        return (f"LTAModel({self.n_classes} classes, {self.n_times} time points {self.times}, "
                f"{self.data.n_units} units, level={self.loglik_dim!r}, "
                f"{'invariant' if self.options['invariant_measurement'] else 'time-specific'} measurement, "
                f"{'Markov' if self.options['markov'] else 'non-Markov'})")

    def sample(self, *args, **kwargs):
        """NUTS as :meth:`MixtureModel.sample`; says when relabeled draws carry parts the aligner leaves alone.

        The label aligner permutes the class and transition parameters of a
        relabeled draw but not the random intercepts alpha_tj (their effect labels
        are ``<time>:<class>``) nor ``transition_lag_effect`` (``markov=False``);
        chains start at one mode, so draws are rarely relabeled, and the warning
        names the count when they are.

        Parameters
        ----------
        *args, **kwargs
            As :meth:`MixtureModel.sample` (``draws``, ``tune``, ``chains``, ``random_seed``, ``init`` ...).

        Returns
        -------
        xarray.DataTree
            The posterior, as :meth:`MixtureModel.sample`.

        Examples
        --------
        >>> idata = m.sample(draws=1000, chains=4, random_seed=1, init=m.fit_ml(seed=1))   # doctest: +SKIP
        """
        idata = super().sample(*args, **kwargs)
        changed = int(idata.attrs.get("bayesmix_relabeled_draws", 0))
        extra = [name for name, present in (("the random intercepts (random_*)", self.latent is not None),
                                            ("transition_lag_effect", not self.options["markov"])) if present]
        if changed and extra:
            warnings.warn(f"{changed} draw(s) had their class labels permuted to the starting mode's, but "
                          f"{' and '.join(extra)} of those draws were not re-expressed in the new labels; "
                          "results that use them (class proportions, transitions with random intercepts) mix "
                          "two labelings. Sample again from a better separated mode (init=m.fit_ml(...)), or "
                          "use ordered='<item>' to fix the labels.", UserWarning, stacklevel=2)
        return idata

    @property
    def times(self) -> list[str]:
        """The time point labels, in order."""
        return list(self.options["times"])

    @property
    def n_times(self) -> int:
        """Number of time points T."""
        return len(self.options["times"])

    @property
    def items_by_time(self) -> dict[str, list[str]]:
        """Item columns per time point (a copy)."""
        return {t: list(v) for t, v in self.options["items_by_time"].items()}

    def class_proportions_by_time(self, fit, *, kind: str = "model", hdi_prob: float = 0.94,
                                  integration: dict | None = None) -> pd.DataFrame:
        """P(C_t = k) for every time point (:func:`bayesmix.families.lta.results.class_proportions_by_time`).

        Parameters
        ----------
        fit : MLResult, MAP result or DataTree
            An ML fit (estimates with delta-method SEs), a MAP fit, or a posterior
            (``sample``, ``fit_laplace``: means and intervals over draws).
        kind : ``"model"`` or ``"posterior"``
            Implied by the estimated model, or averaged posterior probabilities of the units.
        hdi_prob : float
            Probability of the equal-tailed interval.
        integration : dict, optional
            Quadrature of the random intercepts (default: the fit's / model's).

        Returns
        -------
        DataFrame
            Rows (time, class); ML: ``estimate``, ``se``, ``se_robust``, ``lower``, ``upper``; MAP:
            ``estimate``; posterior: ``mean``, ``sd``, ``lower``, ``upper``.

        Examples
        --------
        >>> m.class_proportions_by_time(ml)             # doctest: +SKIP
        """
        from .results import class_proportions_by_time
        return class_proportions_by_time(self, fit, kind=kind, hdi_prob=hdi_prob, integration=integration)

    def transition_matrices(self, fit, *, kind: str = "model", hdi_prob: float = 0.94,
                            integration: dict | None = None) -> pd.DataFrame:
        """Transition probabilities P(C_t = k | C_{t-1} = j) with SEs or intervals (:func:`bayesmix.families.lta.results.transition_matrices`).

        Parameters
        ----------
        fit : MLResult, MAP result or DataTree
            An ML fit (estimates with delta-method SEs), a MAP fit, or a posterior
            (``sample``, ``fit_laplace``: means and intervals over draws).
        kind : ``"model"`` or ``"posterior"``
            Implied by the estimated model, or averaged posterior probabilities of the units.
        hdi_prob : float
            Probability of the equal-tailed interval.
        integration : dict, optional
            Quadrature of the random intercepts (default: the fit's / model's).

        Returns
        -------
        DataFrame
            Rows (transition, from, to); ML: ``estimate``, ``se``, ``se_robust``, ``lower``, ``upper``; MAP:
            ``estimate``; posterior: ``mean``, ``sd``, ``lower``, ``upper``.

        Examples
        --------
        >>> m.transition_matrices(ml).xs("t1->t2")["estimate"].unstack()   # K x K   # doctest: +SKIP
        """
        from .results import transition_matrices
        return transition_matrices(self, fit, kind=kind, hdi_prob=hdi_prob, integration=integration)

    def transition_effects(self, fit, *, hdi_prob: float = 0.94, integration: dict | None = None) -> pd.DataFrame:
        """Eq. 9's alpha and gamma, and eq. 14's R-squared (K = 2) (:func:`bayesmix.families.lta.results.transition_effects`).

        Parameters
        ----------
        fit : MLResult, MAP result or DataTree
            An ML fit (estimates with delta-method SEs), a MAP fit, or a posterior
            (``sample``, ``fit_laplace``: means and intervals over draws).
        hdi_prob : float
            Probability of the equal-tailed interval.
        integration : dict, optional
            Quadrature of the random intercepts (default: the fit's / model's).

        Returns
        -------
        DataFrame
            Rows (transition, quantity); ML: ``estimate``, ``se``, ``se_robust``, ``lower``, ``upper``; MAP:
            ``estimate``; posterior: ``mean``, ``sd``, ``lower``, ``upper``.

        Examples
        --------
        >>> m.transition_effects(ml)                    # doctest: +SKIP
        """
        from .results import transition_effects
        return transition_effects(self, fit, hdi_prob=hdi_prob, integration=integration)

    def time_class_probabilities(self, fit, *, integration: dict | None = None) -> pd.DataFrame:
        """Smoothed P(C_t = k | y_i) by the forward-backward algorithm, averaged over draws.

        Parameters
        ----------
        fit : MLResult, MAP result or DataTree
            An ML fit (estimates with delta-method SEs), a MAP fit, or a posterior
            (``sample``, ``fit_laplace``: means and intervals over draws).
        integration : dict, optional
            Quadrature of the random intercepts (default: the fit's / model's).

        Returns
        -------
        DataFrame
            Units x (time, class).

        Examples
        --------
        >>> m.time_class_probabilities(ml).head()       # doctest: +SKIP
        """
        from .results import time_class_probabilities
        return time_class_probabilities(self, fit, integration=integration)

    def path_probabilities(self, fit, *, integration: dict | None = None) -> pd.DataFrame:
        """P(C_1..C_T = path | y_i) over the K^T class paths.

        Parameters
        ----------
        fit : MLResult, MAP result or DataTree
            An ML fit (estimates with delta-method SEs), a MAP fit, or a posterior
            (``sample``, ``fit_laplace``: means and intervals over draws).
        integration : dict, optional
            Quadrature of the random intercepts (default: the fit's / model's).

        Returns
        -------
        DataFrame
            Units x paths (labelled ``"class1 > class2"``); rows sum to one.

        Examples
        --------
        >>> m.path_probabilities(ml).mean()             # doctest: +SKIP
        """
        from .results import path_probabilities
        return path_probabilities(self, fit, integration=integration)

    def most_likely_paths(self, fit, *, integration: dict | None = None) -> pd.DataFrame:
        """The most likely class path of each unit (Viterbi at a point fit) and its probability.

        Parameters
        ----------
        fit : MLResult, MAP result or DataTree
            An ML fit (estimates with delta-method SEs), a MAP fit, or a posterior
            (``sample``, ``fit_laplace``: means and intervals over draws).
        integration : dict, optional
            Quadrature of the random intercepts (default: the fit's / model's).

        Returns
        -------
        DataFrame
            One column per time point (class labels) and ``probability``.

        Examples
        --------
        >>> m.most_likely_paths(ml).value_counts()      # doctest: +SKIP
        """
        from .results import most_likely_paths
        return most_likely_paths(self, fit, integration=integration)

    def variance_explained(self, fit, *, hdi_prob: float = 0.94, integration: dict | None = None) -> pd.DataFrame:
        """Section 4's R-squared decomposition (two-level LTA, K = 2, T = 2) (:func:`bayesmix.families.lta.results.variance_explained`).

        Parameters
        ----------
        fit : MLResult, MAP result or DataTree
            An ML fit (estimates with delta-method SEs), a MAP fit, or a posterior
            (``sample``, ``fit_laplace``: means and intervals over draws).
        hdi_prob : float
            Probability of the equal-tailed interval.
        integration : dict, optional
            Quadrature of the random intercepts (default: the fit's / model's).

        Returns
        -------
        DataFrame
            Rows ``C1: alpha1``, ``C2: total`` and its parts; ML: ``estimate``, ``se``, ``se_robust``, ``lower``, ``upper``; MAP:
            ``estimate``; posterior: ``mean``, ``sd``, ``lower``, ``upper``.

        Examples
        --------
        >>> m.variance_explained(ml)                    # doctest: +SKIP
        """
        from .results import variance_explained
        return variance_explained(self, fit, hdi_prob=hdi_prob, integration=integration)


def summary_by_time(model: LTAModel, fit) -> str:
    """A latent transition model's class proportions at every time point and its transition probabilities.

    ``ml.summary()`` and ``model.class_proportions`` give the classes of the
    first time point (C_1) only; this adds P(C_t = k) for every t
    (:meth:`LTAModel.class_proportions_by_time`, the model-implied proportions
    of eq. 8-9) and P(C_t = k | C_{t-1} = j) per step
    (:meth:`LTAModel.transition_matrices`): the command-line summary's
    ``summary_extra`` hook of the LTA family.
    """
    def number(v: float) -> str:
        return f"{v:.4f}"

    first = model.times[0]
    proportions = model.class_proportions_by_time(fit).to_string(float_format=number, sparsify=False)
    transitions = model.transition_matrices(fit).to_string(float_format=number, sparsify=False)
    return (f"\nClass proportions at every time point, P(C_t = k) implied by the model "
            f"(the ML summary's 'Classes' are time point {first}):\n{proportions}\n"
            f"\nTransition probabilities P(C_t = k | C_t-1 = j) (rows: transition, from, to):\n{transitions}\n")
