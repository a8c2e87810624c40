"""The latent transition model object (sections 3-4): :class:`LTAModel`, result methods by time point."""

from __future__ import annotations

import os
import warnings
from typing import Mapping, Sequence

import pandas as pd

from ...model import MixtureModel
from ..._warn import PACKAGE_FRAMES

_SEPARATORS = "_-. :/"


def _stem(columns: Sequence[str], times: Sequence[str]) -> str | None:
    """The part the item's columns share without their time: ``tense_t1``, ``tense_t2`` -> ``tense``; or None."""
    for cut in (lambda c, t: c[: -len(t)] if c.endswith(t) else None,
                lambda c, t: c[len(t):] if c.startswith(t) else None):
        stems = {cut(c, t) for c, t in zip(columns, times)}
        if None not in stems and len(stems) == 1:
            stem = stems.pop().strip(_SEPARATORS)
            if stem:
                return stem
    prefix = os.path.commonprefix(list(columns))  # stub_f, stub_s -> "stub_" -> stub
    end = max(prefix.rfind(ch) for ch in _SEPARATORS)
    if end > 0 and prefix[:end].strip(_SEPARATORS):
        return prefix[:end].strip(_SEPARATORS)
    suffix = os.path.commonprefix([c[::-1] for c in columns])[::-1]  # f_stub, s_stub -> "_stub" -> stub
    starts = [suffix.find(ch) for ch in _SEPARATORS if ch in suffix]
    if starts and suffix[min(starts):].strip(_SEPARATORS):
        return suffix[min(starts):].strip(_SEPARATORS)
    return None


def item_labels(items_by_time: Mapping[str, Sequence[str]], times: Sequence[str]) -> dict[str, str]:
    """Invariant measurement: time-1 column -> a label naming the item at every time point.

    The columns' common stem without the time (``tense_t1``, ``tense_t2`` ->
    ``tense``; ``stub_f``, ``stub_s`` -> ``stub``), or all the item's columns
    joined by ``/`` (``a1/b7``) when they share none or two items' stems coincide.

    Examples
    --------
    >>> item_labels({"t1": ["tense_t1", "a1"], "t2": ["tense_t2", "b7"]}, ["t1", "t2"])
    {'tense_t1': 'tense', 'a1': 'a1/b7'}
    """
    first = list(items_by_time[times[0]])
    columns = {name: [items_by_time[t][p] for t in times] for p, name in enumerate(first)}
    labels = {name: _stem(cols, times) or "/".join(cols) for name, cols in columns.items()}
    if len(set(labels.values())) < len(labels):  # two items would share a label: name every column
        labels = {name: "/".join(cols) for name, cols in columns.items()}
    return labels


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
                          "use ordered='<item>' to fix the labels.", UserWarning, skip_file_prefixes=PACKAGE_FRAMES)
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
    def profile_item_labels(self) -> dict[str, str]:
        """Invariant measurement: the time-1 item columns -> labels naming the item at every time point.

        One set of item parameters measures every occasion, held by the time-1
        columns; the profile tables (``m.profiles``, ``ml.profiles``, the plots)
        label its rows by the columns' common stem without the time
        (``tense_t1``, ``tense_t2`` -> ``tense``), or by all of the item's columns
        joined by ``/`` when they have none (:func:`item_labels`). Time-specific
        measurement keeps each column's own name (empty dict).
        """
        if not self.options["invariant_measurement"]:
            return {}
        return item_labels(self.options["items_by_time"], self.times)

    @property
    def items_by_time(self) -> dict[str, list[str]]:
        """Item columns per time point (a copy)."""
        return {t: list(v) for t, v in self.options["items_by_time"].items()}

    def class_proportions_by_time(self, fit, **kwargs) -> pd.DataFrame:
        """See :func:`bayesmix.families.lta.results.class_proportions_by_time`."""
        from .results import class_proportions_by_time
        return class_proportions_by_time(self, fit, **kwargs)

    def transition_matrices(self, fit, **kwargs) -> pd.DataFrame:
        """See :func:`bayesmix.families.lta.results.transition_matrices`."""
        from .results import transition_matrices
        return transition_matrices(self, fit, **kwargs)

    def transition_effects(self, fit, **kwargs) -> pd.DataFrame:
        """See :func:`bayesmix.families.lta.results.transition_effects`."""
        from .results import transition_effects
        return transition_effects(self, fit, **kwargs)

    def time_class_probabilities(self, fit, **kwargs) -> pd.DataFrame:
        """See :func:`bayesmix.families.lta.results.time_class_probabilities`."""
        from .results import time_class_probabilities
        return time_class_probabilities(self, fit, **kwargs)

    def path_probabilities(self, fit, **kwargs) -> pd.DataFrame:
        """See :func:`bayesmix.families.lta.results.path_probabilities`."""
        from .results import path_probabilities
        return path_probabilities(self, fit, **kwargs)

    def most_likely_paths(self, fit, **kwargs) -> pd.DataFrame:
        """See :func:`bayesmix.families.lta.results.most_likely_paths`."""
        from .results import most_likely_paths
        return most_likely_paths(self, fit, **kwargs)

    def variance_explained(self, fit, **kwargs) -> pd.DataFrame:
        """See :func:`bayesmix.families.lta.results.variance_explained`."""
        from .results import variance_explained
        return variance_explained(self, fit, **kwargs)


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
