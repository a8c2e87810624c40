"""The mixture SEM model object: :class:`MixtureSEMModel` (factor scores, structural tables)."""

from __future__ import annotations

from ...model import MixtureModel

__all__ = ["MixtureSEMModel"]


class MixtureSEMModel(MixtureModel):
    """A :class:`~bayesmix.MixtureModel` with within-class factors and structural regressions (eq. 2-4).

    Built by :func:`bayesmix.mixture_sem`. ``spec`` is the validated
    description (:class:`~bayesmix.families.mixture_sem.spec.WithinSpec`),
    ``within`` the factor block (:class:`~bayesmix.latent.structural.WithinFactors`,
    None without factors and direct effects).
    """

    @property
    def spec(self):
        return self.options["spec"]

    @property
    def within(self):
        return self.options.get("block")
