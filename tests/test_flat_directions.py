"""The non-positive-definite information warning names the flat direction (issue 23 item 1, GoM on bfi)."""

import numpy as np
import pytest

from bayesmix.inference.objective import covariances, flat_directions


def test_flat_directions_names_the_null_eigenvector():
    # information of (a, b, c) with a - b unidentified: only a + b and c are seen by the data
    info = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    (direction,) = flat_directions(info, ["a", "b", "c"])
    assert direction.startswith("+0.71 a -0.71 b") and "c" not in direction.split("(")[0]
    # positive definite, but inv() failed: the smallest direction is still named
    assert flat_directions(np.diag([3.0, 1e-3]), ["x", "y"])[0].startswith("+1.00 y")


class _Flat:
    """The parts of a FlatModel that covariances() uses, with a singular information matrix."""

    def __init__(self, info, labels):
        self.info, self._labels = info, labels

    def hessian(self, theta, kind="loglik"):
        return self.info

    def labels(self):
        return self._labels

    def scores(self, theta):
        return np.ones((5, len(theta)))


def test_covariances_warning_names_the_flat_direction():
    # an ordinal threshold gap running off: the log-likelihood no longer depends on gap[class2, N4] (row of zeros)
    info = np.diag([4.0, 2.0, 0.0])
    flat = _Flat(info, ["ordinal_first_threshold[class1, N4]", "class_intercept[class1]", "ordinal_log_gap[class2, N4]"])
    with pytest.warns(UserWarning, match=r"flat \(not identified\) along \+1\.00 ordinal_log_gap\[class2, N4\]") as rec:
        cov, _ = covariances(flat, np.zeros(3), np.arange(3))
    assert "threshold gap runs off" in str(rec[0].message)
    np.testing.assert_allclose(np.diag(cov), [0.25, 0.5, 0.0])  # pseudo-inverse: the flat direction gets 0
