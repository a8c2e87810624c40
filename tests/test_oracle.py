"""Oracle tests: the marginal log-likelihood of tiny LCAs equals brute force.

For each item kind (binary logit/probit, nominal with ragged categories,
ordinal with ragged categories and logit/probit, continuous with
class-specific or equal variances, and all kinds mixed), with missing cells
and class covariates, K = 2 and 3, the per-unit marginal log-likelihood of
``bm.lca`` (through ``flat_model(m).unit_loglik``) is compared with an
independent numpy/scipy implementation that loops over units and classes:

    log p(y_i) = logsumexp_c [ log softmax([a + x_i b, 0])_c
                               + sum_{observed items j} log p(y_ij | c) ]

The model's own ``loglik`` Potential, compiled by PyMC, must agree too, and
missing cells must contribute exactly nothing.

Each case compiles one PyTensor model (a few seconds with a warm cache), so
models are built once per module and shared between tests.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit, logsumexp

import bayesmix as bm
from bayesmix._compile import COMPILE_MODE
from bayesmix.inference.objective import flat_model

N_UNITS = 12
RTOL = 1e-8

# item-kind spec of each case: binary = number of binary items; nominal /
# ordinal = category count per item (ragged); continuous = number of items;
# P = number of class covariates.
CASES = {
    "binary-logit-K2": dict(binary=4, K=2, P=1, link="logit"),
    "binary-probit-K3": dict(binary=4, K=3, P=2, link="probit"),
    "nominal-K2": dict(nominal=[3, 4, 3], K=2, P=1),
    "nominal-K3": dict(nominal=[4, 3], binary=1, K=3, P=2),
    "ordinal-logit-K2": dict(ordinal=[3, 4, 3], K=2, P=1, link="logit"),
    "ordinal-probit-K3": dict(ordinal=[4, 3], K=3, P=2, link="probit"),
    "continuous-K2": dict(continuous=3, K=2, P=1),
    "continuous-equalvar-K3": dict(continuous=2, K=3, P=2, equal_variances=True),
    "mixed-logit-K2": dict(binary=2, nominal=[3, 4], ordinal=[3, 4], continuous=2, K=2, P=2, link="logit"),
    "mixed-probit-K3-nocov": dict(
        binary=2, nominal=[4, 3], ordinal=[4, 3], continuous=2, K=3, P=0, link="probit", equal_variances=True
    ),
}


# ------------------------------------------------------------------------------------ data
def _binary_labels(j):
    """Binary items use different label styles; the larger label is 'category 2'."""
    return [(0, 1), ("no", "yes"), (1, 2)][j % 3]


def make_case_data(spec, seed):
    """A wide DataFrame, the item list (kinds interleaved) and item_types.

    Unit 0 has exactly one observed item (the last one in ``items``); other
    units have random missing cells, at least one observed item each, and
    every category of every categorical item is observed somewhere.
    """
    rng = np.random.default_rng(seed)
    n = N_UNITS
    columns, kinds, item_types = {}, {}, {}
    for j in range(spec.get("binary", 0)):
        labels = _binary_labels(j)
        columns[f"b{j + 1}"] = [labels[k] for k in rng.permutation(np.resize([0, 1], n))]
        kinds[f"b{j + 1}"] = ("binary", list(labels))
    for j, c in enumerate(spec.get("nominal", [])):
        columns[f"n{j + 1}"] = list(1 + rng.permutation(np.resize(np.arange(c), n)))  # codes 1..C
        kinds[f"n{j + 1}"] = ("nominal", list(range(1, c + 1)))
    for j, c in enumerate(spec.get("ordinal", [])):
        name = f"o{j + 1}"
        codes = rng.permutation(np.resize(np.arange(c), n))
        if j == 1 and c == 3:  # an ordered Categorical whose order is not alphabetical
            labels = ["low", "mid", "high"]
            columns[name] = pd.Categorical([labels[k] for k in codes], categories=labels, ordered=True)
            kinds[name] = ("ordinal", labels)
        else:
            columns[name] = list(codes)  # integer codes 0..C-1
            kinds[name] = ("ordinal", list(range(c)))
        item_types[name] = "ordinal"
    for j in range(spec.get("continuous", 0)):
        columns[f"c{j + 1}"] = rng.normal(10.0 * j, 1.0 + j, size=n).round(6) + 0.123456  # non-integer
        kinds[f"c{j + 1}"] = ("continuous", None)
    # interleave kinds so kernels must pick their own items out of the list
    names = list(columns)
    items = [names[i] for i in rng.permutation(len(names))]

    for _ in range(1000):
        missing = rng.random((n, len(items))) < 0.2
        missing[0] = True
        missing[0, -1] = False  # unit 0: only the last item observed
        if missing.all(axis=1).any():
            continue
        ok = True
        for j, name in enumerate(items):
            kind, cats = kinds[name]
            if cats is not None:
                observed = {columns[name][i] for i in range(n) if not missing[i, j]}
                ok &= len(observed) == len(cats)
        if ok:
            break
    else:  # pragma: no cover
        raise RuntimeError("could not draw a missingness pattern")

    frame = {}
    for j, name in enumerate(items):
        kind, cats = kinds[name]
        vals = list(columns[name])
        vals = [None if missing[i, j] else v for i, v in enumerate(vals)]
        if isinstance(columns[name], pd.Categorical):
            frame[name] = pd.Categorical(vals, categories=columns[name].categories, ordered=True)
        elif cats is not None and isinstance(cats[0], str):
            frame[name] = pd.Series(vals)  # string labels, None = missing
        else:
            frame[name] = pd.Series([np.nan if v is None else float(v) for v in vals])
    for p in range(spec.get("P", 0)):
        frame[f"x{p + 1}"] = rng.normal(size=n)
    return pd.DataFrame(frame), items, item_types, {name: kinds[name] for name in items}


# ------------------------------------------------------------------------------ the model
@functools.lru_cache(maxsize=None)
def build_case(case):
    spec = CASES[case]
    frame, items, item_types, kinds = make_case_data(spec, seed=sum(map(ord, case)))
    covariates = [f"x{p + 1}" for p in range(spec["P"])]
    m = bm.lca(
        frame,
        items=items,
        n_classes=spec["K"],
        item_types=item_types or None,
        covariates=covariates or None,
        link=spec.get("link", "logit"),
        equal_variances=spec.get("equal_variances", False),
    )
    # the oracle relies on the model having the kinds we generated
    assert {it.name: it.kind for it in m.data.items} == {name: k for name, (k, _) in kinds.items()}
    return m, frame, items, kinds, covariates


def draw_values(m, seed):
    """Random constrained values for every free RV, perturbed away from the start distribution."""
    rng = np.random.default_rng(seed)
    start = m.random_start(rng)
    assert set(start) == {rv.name for rv in m.model.free_RVs}
    out = {}
    for name, v in start.items():
        v = np.asarray(v, dtype=float)
        if name == "normal_sd":
            out[name] = v * np.exp(rng.normal(0.0, 0.3, size=v.shape))
        elif name.endswith("_ordered"):
            out[name] = np.sort(v + rng.normal(0.0, 0.7, size=v.shape))
        else:
            out[name] = v + rng.normal(0.0, 0.7, size=v.shape)
    return out


# ---------------------------------------------------------------------------------- oracle
def cdf(x, link):
    return expit(x) if link == "logit" else stats.norm.cdf(x)


class Oracle:
    """Brute-force per-unit marginal log-likelihood in numpy/scipy."""

    def __init__(self, frame, items, kinds, covariates, n_classes, link, equal_variances):
        self.frame, self.items, self.kinds = frame, items, kinds
        self.x = frame[covariates].to_numpy(float) if covariates else np.zeros((len(frame), 0))
        self.K, self.link, self.equal_variances = n_classes, link, equal_variances
        # position of each item within its kind (item order of `items`) and its
        # offset into the flattened nominal / ordinal-gap parameter vectors
        self.index, counters, nominal_offset, gap_offset = {}, {}, 0, 0
        for name in items:
            kind, cats = kinds[name]
            j = counters.get(kind, 0)
            counters[kind] = j + 1
            if kind == "nominal":
                self.index[name] = (j, nominal_offset)
                nominal_offset += len(cats) - 1
            elif kind == "ordinal":
                self.index[name] = (j, gap_offset)
                gap_offset += len(cats) - 2
            else:
                self.index[name] = (j, None)

    def own_parameters(self, name):
        """Parameter name -> indices (last axis) that belong to item ``name``."""
        kind, cats = self.kinds[name]
        j, offset = self.index[name]
        if kind == "binary":
            return {"binary_logit": [j]}
        if kind == "nominal":
            return {"nominal_logit": list(range(offset, offset + len(cats) - 1))}
        if kind == "ordinal":
            out = {"ordinal_first_threshold": [j]}
            if len(cats) > 2:
                out["ordinal_log_gap"] = list(range(offset, offset + len(cats) - 2))
            return out
        return {"normal_mean": [j], "normal_sd": [j]}

    def observed(self, i, name):
        v = self.frame[name].iloc[i]
        return None if pd.isna(v) else v

    def log_class_prior(self, i, p):
        if self.K == 1:
            return np.zeros(1)
        eta = np.asarray(p["class_intercept"], float).copy()
        if self.x.shape[1]:
            eta = eta + self.x[i] @ p["class_slope"]
        full = np.append(eta, 0.0)  # last class is the reference
        return full - logsumexp(full)

    def item_logp(self, name, value, c, p):
        kind, cats = self.kinds[name]
        j, offset = self.index[name]
        if kind == "continuous":
            sd = p["normal_sd"][j] if self.equal_variances else p["normal_sd"][c, j]
            return stats.norm.logpdf(value, loc=p["normal_mean"][c, j], scale=sd)
        code = cats.index(value)
        if kind == "binary":
            prob2 = cdf(p["binary_logit"][c, j], self.link)
            return stats.bernoulli.logpmf(code, prob2)
        if kind == "nominal":
            eta = np.concatenate([[0.0], p["nominal_logit"][c, offset:offset + len(cats) - 1]])
            return eta[code] - logsumexp(eta)
        if kind == "ordinal":
            gaps = np.exp(p["ordinal_log_gap"][c, offset:offset + len(cats) - 2]) if len(cats) > 2 else []
            tau = p["ordinal_first_threshold"][c, j] + np.concatenate([[0.0], np.cumsum(gaps)])
            cum = np.concatenate([[0.0], cdf(tau, self.link), [1.0]])  # P(y <= k)
            return np.log(cum[code + 1] - cum[code])
        raise AssertionError(kind)

    def unit_loglik(self, p, items=None):
        out = np.empty(len(self.frame))
        for i in range(len(self.frame)):
            terms = self.log_class_prior(i, p).copy()
            for c in range(self.K):
                for name in items or self.items:
                    value = self.observed(i, name)
                    if value is not None:
                        terms[c] += self.item_logp(name, value, c, p)
            out[i] = logsumexp(terms)
        return out


def oracle_for(case):
    m, frame, items, kinds, covariates = build_case(case)
    spec = CASES[case]
    return Oracle(frame, items, kinds, covariates, spec["K"], spec.get("link", "logit"),
                  spec.get("equal_variances", False))


def expected_shapes(case):
    spec, (m, frame, items, kinds, covariates) = CASES[case], build_case(case)
    K, P = spec["K"], spec["P"]
    shapes = {"class_intercept": (K - 1,)}
    if P:
        shapes["class_slope"] = (P, K - 1)
    if spec.get("binary"):
        shapes["binary_logit"] = (K, spec["binary"])
    if spec.get("nominal"):
        shapes["nominal_logit"] = (K, sum(c - 1 for c in spec["nominal"]))
    if spec.get("ordinal"):
        shapes["ordinal_first_threshold"] = (K, len(spec["ordinal"]))
        shapes["ordinal_log_gap"] = (K, sum(c - 2 for c in spec["ordinal"]))
    if spec.get("continuous"):
        shapes["normal_mean"] = (K, spec["continuous"])
        shapes["normal_sd"] = (spec["continuous"],) if spec.get("equal_variances") else (K, spec["continuous"])
    return shapes


# ----------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("case", list(CASES))
def test_unit_loglik_matches_bruteforce(case):
    m, frame, *_ = build_case(case)
    assert m.n_units == N_UNITS
    assert frame[m.data.item_names()].isna().to_numpy().any(), "the case should contain missing cells"
    oracle = oracle_for(case)
    flat = flat_model(m)
    for seed in (1, 2):
        values = draw_values(m, seed)
        assert {k: np.shape(v) for k, v in values.items()} == expected_shapes(case)
        ll = flat.unit_loglik(flat.to_theta(values))
        assert ll.shape == (N_UNITS,)
        np.testing.assert_allclose(ll, oracle.unit_loglik(values), rtol=RTOL, atol=0)


@pytest.mark.parametrize("case", list(CASES))
def test_loglik_potential_matches_bruteforce(case):
    """The model's own logp graph (the 'loglik' Potential compiled by PyMC) is the same sum."""
    m, *_ = build_case(case)
    (potential,) = [v for v in m.model.potentials if v.name == "loglik"]
    logp = m.model.compile_logp(vars=[potential], jacobian=False, mode=COMPILE_MODE)
    flat = flat_model(m)
    values = draw_values(m, 3)
    point = flat.split(flat.to_theta(values))  # value-variable names (transformed scale)
    assert set(point) == {v.name for v in m.model.value_vars}
    np.testing.assert_allclose(float(logp(point)), oracle_for(case).unit_loglik(values).sum(), rtol=RTOL)


@pytest.mark.parametrize("case", list(CASES))
def test_missing_cells_contribute_zero(case):
    """Unit 0 has only its last item observed: its loglik is that item's marginal alone."""
    m, frame, items, kinds, _ = build_case(case)
    observed = frame.loc[0, items].notna().to_numpy()
    assert observed.tolist() == [False] * (len(items) - 1) + [True]
    oracle = oracle_for(case)
    values = draw_values(m, 4)
    flat = flat_model(m)
    ll = flat.unit_loglik(flat.to_theta(values))
    last = items[-1]
    value = oracle.observed(0, last)
    single = logsumexp(
        [oracle.log_class_prior(0, values)[c] + oracle.item_logp(last, value, c, values) for c in range(m.n_classes)]
    )
    np.testing.assert_allclose(ll[0], single, rtol=RTOL, atol=0)

    # redraw every item parameter except the observed item's own: unit 0 must not move
    # (its missing cells contribute exactly 0), while units observing other items do
    other = draw_values(m, 5)
    mixed = {k: v.copy() for k, v in other.items()}
    for key in ("class_intercept", "class_slope"):
        if key in values:
            mixed[key] = values[key]
    for key, idx in oracle.own_parameters(last).items():
        mixed[key][..., idx] = values[key][..., idx]
    ll_mixed = flat.unit_loglik(flat.to_theta(mixed))
    np.testing.assert_allclose(ll_mixed[0], ll[0], rtol=1e-13, atol=0)
    assert not np.allclose(ll_mixed[1:], ll[1:])


def test_ordered_binary_item_constrains_classes_and_still_matches_oracle():
    spec = dict(binary=3, K=3, P=1, link="logit")
    frame, items, _, kinds = make_case_data(spec, seed=7)
    m = bm.lca(frame, items=items, n_classes=3, covariates=["x1"], ordered="b1")
    names = {rv.name for rv in m.model.free_RVs}
    assert {"binary_logit_ordered", "binary_logit_unordered"} <= names and "binary_logit" not in names
    flat = flat_model(m)
    j = list(m.model.coords["binary_item"]).index("b1")
    others = [k for k in range(3) if k != j]
    oracle = Oracle(frame, items, kinds, ["x1"], 3, "logit", False)

    values = draw_values(m, 11)
    theta = flat.to_theta(values)
    (beta,) = flat.evaluate("test_binary_logit", [m.model["binary_logit"]], theta)
    assert beta.shape == (3, 3)
    np.testing.assert_allclose(beta[:, j], values["binary_logit_ordered"], rtol=1e-12)
    np.testing.assert_allclose(beta[:, others], values["binary_logit_unordered"], rtol=1e-12)
    assert np.all(np.diff(beta[:, j]) > 0)
    oracle_values = {k: v for k, v in values.items() if not k.startswith("binary_logit_")}
    oracle_values["binary_logit"] = beta
    ll = flat.unit_loglik(theta)
    assert np.all(np.isfinite(ll))
    np.testing.assert_allclose(ll, oracle.unit_loglik(oracle_values), rtol=RTOL, atol=0)

    # any unconstrained theta gives increasing class parameters for the ordered item
    rng = np.random.default_rng(0)
    for _ in range(5):
        theta = rng.normal(0.0, 2.0, size=flat.n_params)
        (beta,) = flat.evaluate("test_binary_logit", [m.model["binary_logit"]], theta)
        assert np.all(np.diff(beta[:, j]) > 0)
        constrained = flat.constrained(theta)
        oracle_values = {k: v for k, v in constrained.items() if not k.startswith("binary_logit_")}
        oracle_values["binary_logit"] = beta
        np.testing.assert_allclose(flat.unit_loglik(theta), oracle.unit_loglik(oracle_values), rtol=RTOL, atol=0)


def test_link_functions_match_scipy_in_the_tails():
    """The kernels' log F and F agree with scipy to float64 precision (probit log-cdf: see kernels.py)."""
    import pytensor
    import pytensor.tensor as pt

    from bayesmix.kernels import cdf, log_cdf

    x = pt.dvector("x")
    grid = np.concatenate([np.linspace(-30.0, 30.0, 241), [-1.0 - 1e-12, -1.0, -1.0 + 1e-12]])
    fn = pytensor.function(
        [x], [log_cdf(x, "logit"), log_cdf(x, "probit"), cdf(x, "logit"), cdf(x, "probit")], mode=COMPILE_MODE
    )
    log_logit, log_probit, cdf_logit, cdf_probit = fn(grid)
    np.testing.assert_allclose(log_logit, -np.logaddexp(0.0, -grid), rtol=1e-12)
    np.testing.assert_allclose(log_probit, stats.norm.logcdf(grid), rtol=1e-12)
    np.testing.assert_allclose(cdf_logit, expit(grid), rtol=1e-12)
    np.testing.assert_allclose(cdf_probit, stats.norm.cdf(grid), rtol=1e-12)
