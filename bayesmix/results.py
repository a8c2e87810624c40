"""Results people read: class membership, proportions, profiles, entropy.

PyTensor graphs from the model (the same ones the likelihood uses) are
compiled as functions of the free random variables; pandas/xarray labels go
on top. Over posterior draws they are evaluated in batches: the graph is
rebuilt with a leading draw axis (``pytensor.graph.replace.vectorize_graph``)
and fed stacked draws, as many per call as :data:`BATCH_ELEMENTS` allows
(:func:`evaluate_draws`), so a posterior of thousands of draws costs a few
calls instead of one Python round trip per draw.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytensor.tensor as pt
import xarray as xr

from ._compile import choose_mode, function

#: elements of one likelihood evaluation (``MixtureModel.work_size``) times draws per batched call.
#: Measured (2 cores, loaded): a batch pays while its arrays stay cache-sized -- N = 200 x 7 items,
#: K = 2: 0.13 ms per draw in batches of 50 against 0.57 ms per draw in the loop, but 0.32 ms in
#: batches of 400; N = 1,000 x 10: best at 10 per batch (0.42 against 0.66 ms); N = 5,000 x 15:
#: 1 ms per draw in the loop, slower in any batch (the work is arithmetic, not Python calls).
#: Graphs above half this size are evaluated once per draw.
BATCH_ELEMENTS = 150_000

_log = logging.getLogger(__name__)


def profile_tensor(mm):
    """(K, R) class profile rows of all kernels and their (item, category) labels.

    With item parameters by the between class as well (eq. 22,
    ``Structure.measurement_groups``): (M, K, R), the profiles in each between class.
    Items are labelled by :attr:`MixtureModel.profile_item_labels` where it names them
    (an LTA's invariant items by their stem, not the time-1 column).
    """
    pieces, rows = [], []
    groups = mm.structure.measurement_groups
    names = getattr(mm, "profile_item_labels", None) or {}
    for kernel in mm.kernels:
        table, labels = kernel.profile_rows()
        if groups is not None:
            table = table + pt.zeros((groups[1], 1, 1))
        pieces.append(table)
        rows.extend((names.get(item, item), category) for item, category in labels)
    return pt.concatenate(pieces, axis=-1), rows


def profile_columns(mm, statistics: list[str]) -> pd.MultiIndex:
    """Columns of a profile table: (class, statistic), or (between_class, class, statistic) by D (eq. 22)."""
    groups = mm.structure.measurement_groups
    if groups is None:
        return pd.MultiIndex.from_product([mm.class_labels, statistics], names=["class", "statistic"])
    return pd.MultiIndex.from_product([list(mm.model.coords[groups[0]]), mm.class_labels, statistics],
                                      names=[groups[0], "class", "statistic"])


def proportion_tensor(mm, integration: dict | None = None):
    """Population class proportions P(C = c), (K,); see :meth:`MixtureModel.proportion_tensor`."""
    return mm.proportion_tensor(integration)


def posterior_rv_names(mm, posterior) -> list[str]:
    """Free RVs present in a posterior (random effects are absent after Laplace/ML)."""
    return [rv.name for rv in mm.model.free_RVs if rv.name in posterior]


def draw_function(mm, key: str, outputs, names: list[str] | None = None, calls: int = 1):
    """Compile ``outputs`` as a function of the named free RVs (default: all), cached.

    ``calls``: the draws it will be evaluated at (with the work per draw, the compile mode:
    :func:`bayesmix._compile.choose_mode`); one function per mode is cached.
    """
    names = names or [rv.name for rv in mm.model.free_RVs]
    cache = mm._cache.setdefault("draw_functions", {})
    mode = choose_mode(mm.work_size(), calls)
    if (key, tuple(names), mode) not in cache:
        inputs = [rv for rv in mm.model.free_RVs if rv.name in names]
        cache[(key, tuple(names), mode)] = function(inputs, outputs, mode=mode)
    return cache[(key, tuple(names), mode)]


def draw_pairs(posterior: xr.Dataset, max_draws: int | None = None) -> list[tuple[int, int]]:
    """(chain, draw) positions, thinned evenly to at most ``max_draws``."""
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    pairs = [(c, d) for c in range(n_chain) for d in range(n_draw)]
    if max_draws is not None and len(pairs) > max_draws:
        step = int(np.ceil(len(pairs) / max_draws))
        pairs = pairs[::step]
    return pairs


def iterate_draws(mm, posterior: xr.Dataset, max_draws: int | None = None):
    """Yield ((chain, draw), values of :func:`posterior_rv_names`) over the posterior."""
    names = posterior_rv_names(mm, posterior)
    arrays = [posterior[n].transpose("chain", "draw", ...).to_numpy() for n in names]
    for c, d in draw_pairs(posterior, max_draws):
        yield (c, d), [a[c, d] for a in arrays]


def inline_symbolic_ops(outputs: list) -> list:
    """Replace OpFromGraph nodes (log_softmax, logsumexp, ...) by their inner graphs.

    ``vectorize_graph`` has no batched form for them and would wrap each in a
    ``Blockwise`` that loops over draws in Python; inlined, the elementwise
    ops and reductions take the draw axis natively.
    """
    from pytensor.compile.builders import OpFromGraph
    from pytensor.compile.rewriting import inline_ofg_node
    from pytensor.graph.fg import FunctionGraph
    from pytensor.graph.rewriting.basic import in2out, node_rewriter

    @node_rewriter([OpFromGraph])
    def inline(fgraph, node):
        return inline_ofg_node(node)

    from pytensor.graph.rewriting.utils import rewrite_graph

    fgraph = FunctionGraph(outputs=outputs, clone=False, copy_inputs=False)
    in2out(inline).rewrite(fgraph)
    # canonical forms (a reshape that adds unit axes -> DimShuffle) keep their static
    # broadcastable axes when vectorized; a vectorized Reshape would lose them
    return list(rewrite_graph(fgraph, include=("canonicalize",)).outputs)


def batch_function(mm, key: str, outputs, names: list[str] | None = None, calls: int = 1):
    """``outputs`` with a leading draw axis: a function of stacked draws (B, *rv shape) per free RV.

    The graph is vectorized with ``vectorize_graph`` (ops without a batched
    form run as a ``Blockwise`` loop, still correct). Returns
    ``(fn, core ndims of the outputs, single output?)``; ``fn`` returns arrays (B, ...). The compile
    mode is chosen by the work of one draw and the draws (``calls``), as for :func:`draw_function`.
    """
    from pytensor.graph.replace import clone_replace, vectorize_graph

    names = names or [rv.name for rv in mm.model.free_RVs]
    cache = mm._cache.setdefault("batch_functions", {})
    mode = choose_mode(mm.work_size(), calls)
    if (key, tuple(names), mode) not in cache:
        inputs = [rv for rv in mm.model.free_RVs if rv.name in names]
        single = not isinstance(outputs, (list, tuple))
        outs = [outputs] if single else list(outputs)
        core = [rv.type(name=rv.name) for rv in inputs]  # fresh graph: the model's own is never rewritten
        outs = inline_symbolic_ops(clone_replace(outs, replace=dict(zip(inputs, core))))
        stacked = [pt.tensor(name=f"{rv.name}_draws", dtype=rv.dtype, shape=(None, *rv.type.shape))
                   for rv in inputs]
        batched = vectorize_graph(outs, replace=dict(zip(core, stacked)))
        fn = function(stacked, batched, mode=mode)
        cache[(key, tuple(names), mode)] = (fn, [o.ndim for o in outs], single)
    return cache[(key, tuple(names), mode)]


def batch_size(mm, n_draws: int) -> int:
    """Draws per batched call: :data:`BATCH_ELEMENTS` / elements of one evaluation, at least 1."""
    return int(max(1, min(n_draws, BATCH_ELEMENTS // max(1, mm.work_size()))))


def draw_batches(mm, key: str, outputs, posterior: xr.Dataset, max_draws: int | None = None,
                 batch: int | None = None):
    """Yield ``(pairs, values)`` per batch of (thinned) draws; values (B, ...) or a list of such arrays.

    ``batch`` defaults to :func:`batch_size`. A batch of one draw (large
    graphs) uses the per-draw function, as does a graph whose batched form
    cannot be built or evaluated. Memory holds one batch at a time.

    BLAS runs one thread meanwhile: the (nodes x patterns) @ (patterns x
    clusters) products of two-level models took 40-150 ms per draw with
    OpenBLAS's threads on 2 busy cores, 0.15 ms with one (benchmarks/bench_stan.py).
    """
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):
        yield from _draw_batches(mm, key, outputs, posterior, max_draws, batch)


def _draw_batches(mm, key, outputs, posterior, max_draws, batch):
    names = posterior_rv_names(mm, posterior)
    pairs = draw_pairs(posterior, max_draws)
    chains = np.array([c for c, _ in pairs], dtype=int)
    draws = np.array([d for _, d in pairs], dtype=int)
    arrays = [posterior[n].transpose("chain", "draw", ...).to_numpy()[chains, draws] for n in names]
    failed = mm._cache.setdefault("batch_failed", set())
    batch = batch or batch_size(mm, len(pairs))
    start = 0
    if batch > 1 and (key, tuple(names)) not in failed:
        try:
            fn, ndims, single = batch_function(mm, key, outputs, names, calls=len(pairs))
            while start < len(pairs):
                stop = min(start + batch, len(pairs))
                values = []
                for value, ndim in zip(fn(*[a[start:stop] for a in arrays]), ndims):
                    value = np.asarray(value)
                    if value.ndim == ndim:  # free of the draws: the same value at every draw
                        value = np.broadcast_to(value, (stop - start, *value.shape))
                    values.append(value)
                yield pairs[start:stop], values[0] if single else values
                start = stop
            return
        except Exception as exc:  # an op whose vectorized form fails: the per-draw graph is the reference
            _log.info("bayesmix: %s evaluated per draw (no batched form: %s)", key, exc)
            failed.add((key, tuple(names)))
    fn = draw_function(mm, key, outputs, names, calls=len(pairs))
    single = not isinstance(outputs, (list, tuple))
    for i in range(start, len(pairs)):
        value = fn(*[a[i] for a in arrays])
        yield pairs[i:i + 1], (np.asarray(value)[None] if single else [np.asarray(v)[None] for v in value])


def evaluate_draws(mm, key: str, outputs, posterior: xr.Dataset, max_draws: int | None = None,
                   batch: int | None = None):
    """Values of ``outputs`` at every (thinned) draw: ``(pairs, array (S, ...))`` or a list of arrays.

    Equal to evaluating :func:`draw_function` once per draw of
    :func:`iterate_draws` (same order of draws), in ``ceil(S / batch)`` calls
    of :func:`batch_function` (see :func:`draw_batches`).
    """
    pairs, pieces, single = [], [], not isinstance(outputs, (list, tuple))
    for batch_pairs, values in draw_batches(mm, key, outputs, posterior, max_draws, batch):
        pairs.extend(batch_pairs)
        pieces.append([values] if single else values)
    results = [np.concatenate([p[i] for p in pieces], axis=0) for i in range(len(pieces[0]))]
    return pairs, results[0] if single else results


def _average(mm, fit, key: str, graph_of, max_draws: int) -> np.ndarray:
    """A graph (built for the fit's quadrature setting) at a point fit, or its mean over posterior draws."""
    from .evaluate import as_fit, evaluate_at_fit
    fit = as_fit(fit)
    return evaluate_at_fit(mm, fit, graph_of(fit.integration), key=f"{key}:{fit.integration}",
                           integration=fit.integration, max_draws=max_draws, se=False).mean()


def _integration_of(idata) -> dict | None:
    """The quadrature setting a result was fitted with (stored by ML/Laplace), if any."""
    from .evaluate import integration_attr
    return integration_attr(getattr(idata, "attrs", {}))


def class_probabilities(mm, fit, max_draws: int = 1000) -> pd.DataFrame:
    """Posterior class membership P(C_i = c | y_i), units x classes, at a fit (averaged over draws).

    P(C_i = c | y_i) = P(C_i = c | x_i) p(y_i | c) / sum_k P(C_i = k | x_i) p(y_i | k)
    (eq. 4 with the kernels of eq. 1-2); with random effects the cluster's
    effect is integrated over its posterior by quadrature
    (:meth:`MixtureModel.class_probability_tensor`).

    Parameters
    ----------
    mm : MixtureModel
        The model.
    fit : MLResult, MAPResult or DataTree
        Any fit (:func:`bayesmix.evaluate.as_fit`): ``m.fit_ml()``, ``m.fit_map()``,
        ``m.sample()``, ``m.fit_laplace()`` or a dict of values; after ML it
        equals ``ml.posterior_probabilities``.
    max_draws : int
        At most this many (thinned) posterior draws are averaged.

    Returns
    -------
    DataFrame
        Units (clusters for between-level classes) x classes.

    Examples
    --------
    >>> probs = m.class_probabilities(idata)     # doctest: +SKIP
    >>> probs.idxmax(axis=1).value_counts()      # modal classes   # doctest: +SKIP
    """
    probs = _average(mm, fit, "class_probabilities", mm.class_probability_tensor, max_draws)
    return pd.DataFrame(probs, index=mm.class_index, columns=pd.Index(mm.class_labels, name="class"))


def cluster_class_proportions(mm, fit, max_draws: int = 1000) -> pd.DataFrame:
    """Cluster-specific class proportions E[pi_jc | y_j] (two-level models), clusters x classes.

    pi_jc is the mean over cluster j's units of P(C_ij = c | x_ij, alpha_j, D_j),
    with the cluster's latent variables -- random intercepts alpha_j on the
    class logits (eq. 4), the between class D_j of section 6 -- averaged over
    their posterior given the cluster's data (quadrature over alpha_j), then
    over posterior draws of the parameters. A between-level class (eq. 16)
    gives P(C_j = c | y_j). One definition after NUTS, ML, MAP and Laplace;
    see :meth:`MixtureModel.cluster_proportion_tensor`.

    Parameters
    ----------
    mm : MixtureModel
        A model with ``cluster=``.
    fit : MLResult, MAPResult or DataTree
        Any fit (:func:`bayesmix.evaluate.as_fit`).
    max_draws : int
        At most this many (thinned) posterior draws are averaged.

    Returns
    -------
    DataFrame
        Clusters x classes.

    Examples
    --------
    >>> m.cluster_class_proportions(idata).head()   # doctest: +SKIP
    """
    if mm.data.cluster_index is None:
        raise ValueError("cluster_class_proportions needs a model with cluster=...")
    props = _average(mm, fit, "cluster_proportions", mm.cluster_proportion_tensor, max_draws)
    return pd.DataFrame(props, index=mm.data.clusters, columns=pd.Index(mm.class_labels, name="class"))


def between_class_probabilities(mm, fit, max_draws: int = 1000) -> pd.DataFrame:
    """P(D_j = d | y_j) of the between class (``n_between_classes`` models, eq. 24-26), clusters x between classes.

    Parameters
    ----------
    mm : MixtureModel
        A model with ``n_between_classes``.
    fit : MLResult, MAPResult or DataTree
        Any fit (:func:`bayesmix.evaluate.as_fit`); averaged over posterior draws.
    max_draws : int
        At most this many (thinned) posterior draws are averaged.

    Returns
    -------
    DataFrame
        Clusters x between classes.

    Examples
    --------
    >>> m.between_class_probabilities(idata).idxmax(axis=1)   # doctest: +SKIP
    """
    if mm.structure.between_posterior is None:
        raise ValueError("this model has no between class; fit bm.lca(..., n_between_classes=M).")
    probs = _average(mm, fit, "between_probabilities", mm.between_posterior_tensor, max_draws)
    labels = list(mm.model.coords["between_class"])
    return pd.DataFrame(probs, index=mm.data.clusters, columns=pd.Index(labels, name="between_class"))


def between_within_table(mm, fit, max_draws: int = 1000) -> pd.DataFrame:
    """The joint (C, D) table of a model with between and within classes (section 6, eq. 24-26).

    Share of units in between class d and within class c, from the
    posterior classification: (1/N) sum_ij P(D_j = d, C_ij = c | y_j), with
    P(D_j = d, C_ij = c | y_j) = P(D_j = d | y_j) P(C_ij = c | y_ij, D_j = d)
    and any random intercepts integrated over each cluster's posterior (the
    table Mplus prints as the latent class pattern counts of CB and C).
    Its rows sum to the between-class shares of units, its columns to the
    within-class shares; divide a row by its sum for P(C = c | D = d).

    Parameters
    ----------
    mm : MixtureModel
        A model with ``n_between_classes``.
    fit : MLResult, MAPResult or DataTree
        Any fit (:func:`bayesmix.evaluate.as_fit`); averaged over posterior draws.
    max_draws : int
        At most this many (thinned) posterior draws are averaged.

    Returns
    -------
    DataFrame
        Between classes x within classes, summing to 1.

    Examples
    --------
    >>> m.between_within_table(ml)                              # doctest: +SKIP
    """
    if mm.structure.between_posterior is None:
        raise ValueError("this model has no between class; fit bm.lca(..., n_between_classes=M).")

    def graph_of(integration):
        return mm.posterior_expectation(mm.structure.joint_posterior, "unit", integration).mean(axis=0)
    table = _average(mm, fit, "between_within_table", graph_of, max_draws)
    labels = list(mm.model.coords["between_class"])
    return pd.DataFrame(table, index=pd.Index(labels, name="between_class"),
                        columns=pd.Index(list(mm.class_labels), name="class"))


def _posterior_dataset(idata):
    node = idata["posterior"]
    return node.dataset if hasattr(node, "dataset") else node


def posterior_summary(idata, var_names=None, **kwargs) -> pd.DataFrame:
    """``az.summary`` one variable at a time, rows in ``var_names`` order; keywords go to ``az.summary``.

    ArviZ 1.3's ``az.summary`` of several variables that share a dimension
    name at different positions (an LTA's ``transition_logit``, an LCA's
    ``class_intercept(class_free)`` beside ``class_slope(covariate,
    class_free)``) flattens their values in one order and labels them in
    another, so rows carry other elements' values. One variable at a time
    its labels are right (tests/test_summary_labels.py compares every row with
    the draws it names, and carries the minimal reproduction of the defect).

    Parameters
    ----------
    idata : DataTree or Dataset
        A posterior (``m.sample()``), or its posterior Dataset.
    var_names : list of str, optional
        Variables, in the order of the rows (default: every posterior variable).
    **kwargs
        Passed to ``az.summary`` (``kind``, ``round_to``, ``ci_prob``, ...).

    Returns
    -------
    DataFrame
        The rows of ``az.summary`` of each variable, concatenated.

    Examples
    --------
    >>> posterior_summary(idata, ["transition_logit", "class_intercept"])   # doctest: +SKIP
    """
    import arviz as az
    posterior = idata if isinstance(idata, xr.Dataset) else _posterior_dataset(idata)
    names = list(var_names) if var_names is not None else list(posterior.data_vars)
    if not names:
        return pd.DataFrame()
    return pd.concat([az.summary(idata, var_names=[name], **kwargs) for name in names])


def profiles(mm, fit, ci_prob: float | None = None, *, ci_kind: str | None = None, max_draws: int = 2000,
             hdi_prob: float | None = None) -> pd.DataFrame:
    """Class profiles: response probabilities (or means) per item and class, at any fit.

    Rows (item, category): P(y = category | class) for categorical items
    (binary items: the second code), mean and sd for continuous items (like
    the paper's Table 1).

    Parameters
    ----------
    mm : MixtureModel
        The model.
    fit : MLResult, MAPResult or DataTree
        Any fit (:func:`bayesmix.evaluate.as_fit`).
    ci_prob : float, optional
        Probability of the interval over draws (default ArviZ's
        ``rcParams["stats.ci_prob"]``, 0.89).
    ci_kind : ``"eti"`` or ``"hdi"``, optional
        Equal-tailed (the default, ArviZ's ``rcParams["stats.ci_kind"]``) or
        highest density interval.
    max_draws : int
        At most this many (thinned) posterior draws.
    hdi_prob : float, optional
        Deprecated: ``ci_prob`` with ``ci_kind="hdi"`` (a ``FutureWarning``).

    Returns
    -------
    DataFrame
        Columns (class, statistic): after a posterior mean, sd, lower, upper;
        after ML estimate, se, se_robust (delta method; the table ``ml.profiles``);
        after MAP estimate.

    Examples
    --------
    >>> m.profiles(idata).round(3)                         # doctest: +SKIP
    >>> m.profiles(idata, ci_prob=0.9, ci_kind="hdi")      # doctest: +SKIP
    """
    from .evaluate import as_fit, evaluate_at_fit, interval_arguments, summarize
    ci_prob, ci_kind = interval_arguments(ci_prob, ci_kind, hdi_prob)
    fit = as_fit(fit)
    table, rows = profile_tensor(mm)
    ev = evaluate_at_fit(mm, fit, table, key="profiles", integration=fit.integration, max_draws=max_draws)
    return _class_table(mm, rows, summarize(ev, ci_prob=ci_prob, ci_kind=ci_kind, interval_at_point=False))


def class_proportions(mm, fit, ci_prob: float | None = None, *, ci_kind: str | None = None,
                      max_draws: int = 2000, hdi_prob: float | None = None) -> pd.DataFrame:
    """Class proportions (mean of P(C = c | x) over units and latent effects, eq. 4), one row per class, at any fit.

    Parameters
    ----------
    mm : MixtureModel
        The model.
    fit : MLResult, MAPResult or DataTree
        Any fit (:func:`bayesmix.evaluate.as_fit`).
    ci_prob : float, optional
        Probability of the interval over draws (default ArviZ's ``stats.ci_prob``, 0.89).
    ci_kind : ``"eti"`` or ``"hdi"``, optional
        Equal-tailed (default, ArviZ's ``stats.ci_kind``) or highest density interval.
    max_draws : int
        At most this many (thinned) posterior draws.
    hdi_prob : float, optional
        Deprecated: ``ci_prob`` with ``ci_kind="hdi"`` (a ``FutureWarning``).

    Returns
    -------
    DataFrame
        Posterior: mean, sd, lower, upper; ML: estimate, se, se_robust (``ml.class_proportions``);
        MAP: estimate.

    Examples
    --------
    >>> m.class_proportions(idata)         # doctest: +SKIP
    """
    from .evaluate import as_fit, evaluate_at_fit, interval_arguments, summarize
    ci_prob, ci_kind = interval_arguments(ci_prob, ci_kind, hdi_prob)
    fit = as_fit(fit)
    ev = evaluate_at_fit(mm, fit, proportion_tensor(mm, fit.integration), key=f"proportions:{fit.integration}",
                         integration=fit.integration, max_draws=max_draws)
    return pd.DataFrame(summarize(ev, ci_prob=ci_prob, ci_kind=ci_kind, interval_at_point=False),
                        index=pd.Index(mm.class_labels, name="class"))


def _class_table(mm, rows, stats: dict[str, np.ndarray]) -> pd.DataFrame:
    """(K, R) (or (M, K, R)) arrays per statistic -> DataFrame rows (item, category), columns ([D,] class, stat)."""
    index = pd.MultiIndex.from_tuples(rows, names=["item", "category"])
    columns = profile_columns(mm, list(stats))
    data = np.stack([np.asarray(v).reshape(-1, len(rows)).T for v in stats.values()], axis=-1)  # (R, [M] K, S)
    return pd.DataFrame(data.reshape(len(rows), -1), index=index, columns=columns)


def relative_entropy(probabilities: np.ndarray) -> float:
    """Mplus relative entropy: 1 - sum_ic -p_ic log p_ic / (N log K); NaN for K = 1."""
    n, k = probabilities.shape
    if k < 2:
        return float("nan")
    p = np.clip(probabilities, 1e-300, 1.0)
    return float(1.0 - np.sum(-p * np.log(p)) / (n * np.log(k)))


def entropy(mm, fit) -> float:
    """Relative entropy of the posterior classification (Mplus definition, 1 = perfect).

    1 - sum_ic -p_ic log p_ic / (N log K) with p_ic the posterior class
    probabilities of :meth:`class_probabilities`.

    Parameters
    ----------
    mm : MixtureModel
        The model.
    idata : DataTree
        From :meth:`sample` or :meth:`fit_laplace`.

    Returns
    -------
    float
        NaN for K = 1.

    Examples
    --------
    >>> m.entropy(idata)                   # doctest: +SKIP
    """
    return relative_entropy(class_probabilities(mm, fit).to_numpy())


def summary(mm, idata, var_names=None, **kwargs):
    """ArviZ summary of the posterior (class and item parameters), one variable at a time.

    Parameters
    ----------
    mm : MixtureModel
        The model.
    idata : DataTree
        From :meth:`sample` or :meth:`fit_laplace`.
    var_names : list of str, optional
        Variables to include (default: every posterior variable).
    **kwargs
        Passed to ``az.summary`` (e.g. ``kind="diagnostics"``, ``round_to="none"``).

    Returns
    -------
    DataFrame
        ``az.summary``: mean, sd, interval (ArviZ's default ``ci_prob`` and
        ``ci_kind``), ESS, R-hat per element, computed one variable at a time
        (ArviZ 1.3 mislabels rows of variables sharing a dimension at
        different positions; see :func:`posterior_summary`).

    Examples
    --------
    >>> m.summary(idata, ["class_intercept"])   # doctest: +SKIP
    """
    names = var_names or [v for v in idata.posterior.data_vars]
    return posterior_summary(idata, list(names), **kwargs)
