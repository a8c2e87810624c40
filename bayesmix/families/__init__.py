"""Model families: one package per family, each registering itself in :mod:`bayesmix.registry`.

- :mod:`.lca` -- latent class analysis, single and two level (sections 2, 5, 6);
- :mod:`.regression` -- two-level mixture regression (section 5, eq. 19);
- :mod:`.lta` -- latent transition analysis (sections 3-4);
- :mod:`.gom` -- grade of membership (section 7);
- :mod:`.fma` -- factor mixture analysis and FMA-GoM (section 8);
- :mod:`.irt` -- the 3PL guessing model (section 9);
- :mod:`.mixture_sem` -- the general within-level model: factors and regressions in classes (eq. 2-4).

Importing this package registers every family.
"""

from . import lca, regression, lta, gom, fma, irt  # noqa: F401,I001  (registration, in the paper's order)
from . import mixture_sem  # noqa: F401,E402  (the general within-level model, eq. 2-4)
