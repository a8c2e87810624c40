"""Warnings that point at the user's line, whatever the depth of the library code that raises them.

Every warning of the package passes ``skip_file_prefixes=PACKAGE_FRAMES``
(Python >= 3.12), so its ``filename`` / ``lineno`` are those of the first frame
outside ``bayesmix/``: the user's script, notebook cell or test, for a factory
(``bm.lta(...)``), an integrator (``m.fit_ml()``, ``m.sample()``) or a result
function alike. A fixed ``stacklevel`` cannot do that: the same warning is
reached through wrappers of different depths (issue 25, item 8).
"""

from __future__ import annotations

import os

#: the package directory (with a trailing separator): frames in it are skipped
PACKAGE_FRAMES: tuple[str, ...] = (os.path.dirname(os.path.abspath(__file__)) + os.sep,)
