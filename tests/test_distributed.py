"""One ``scheduler=`` for every repeated-fit function (issue 23 item 6): the same results on a cluster.

``bm.montecarlo``, ``bayesmix.sbc.run_sbc``, ``bm.blrt``, ``bm.select_classes`` and
``bm.enumerate_classes`` take the same ``scheduler=`` (``bayesmix.distributed``). Each test runs
the serial path and a two-worker dask ``LocalCluster`` (one thread per worker, shared by the
module) with the same seeds and asserts equal results: every task carries its own seed, so where
it runs must not matter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmix as bm
from bayesmix import sbc
from bayesmix.distributed import map_tasks, resolve_scheduler

distributed = pytest.importorskip("distributed")  # the dev extra installs it; CI always has it

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ITEMS = list("ABCDEFG")


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def carcinoma():
    return bm.datasets.load("carcinoma")


def _square(x, y):
    return x * x + y


def test_scheduler_values_are_checked_before_any_work():
    assert resolve_scheduler(None) == "serial"
    assert resolve_scheduler(None, default="local") == "local"
    assert resolve_scheduler("tcp://10.0.0.5:8786") == "address"
    assert resolve_scheduler("10.0.0.5:8786") == "address"
    for bad in ("parallel", 2, object()):
        with pytest.raises(ValueError, match="scheduler="):
            resolve_scheduler(bad)
    with pytest.raises(ValueError, match="scheduler='threads'"):
        bm.montecarlo("lca_power_k2", replications=2, scheduler="threads")
    with pytest.raises(ValueError, match="scheduler="):
        sbc.run_sbc(sbc.make_case("lca", n_units=30, n_items=3), 1, scheduler="many")


def test_map_tasks_keeps_the_task_order_on_a_cluster(client):
    tasks = [(i, 10 * i) for i in range(7)]
    seen = []
    serial = map_tasks(_square, tasks, scheduler="serial", on_result=lambda i, r: seen.append(i))
    assert serial == [i * i + 10 * i for i in range(7)] and seen == list(range(7))
    seen.clear()
    assert map_tasks(_square, tasks, scheduler=client, on_result=lambda i, r: seen.append(i)) == serial
    assert sorted(seen) == list(range(7))  # completion order may differ; every task reported once


def test_blrt_on_a_cluster_equals_the_serial_bootstrap(carcinoma, client):
    m1, m2 = bm.lca(carcinoma, ITEMS, 1), bm.lca(carcinoma, ITEMS, 2)
    f1, f2 = m1.fit_ml(starts=1, seed=1, progressbar=False), m2.fit_ml(starts=5, seed=1, progressbar=False)
    serial = bm.blrt(m1, f1, m2, f2, n_bootstrap=4, starts=(4, 2), seed=3)
    remote = bm.blrt(m1, f1, m2, f2, n_bootstrap=4, starts=(4, 2), seed=3, scheduler=client)
    np.testing.assert_allclose(remote.attrs["replicates"], serial.attrs["replicates"], rtol=0, atol=1e-8)
    assert remote["p_value"] == serial["p_value"]
    assert np.all(serial.attrs["replicates"] > 0)  # a real bootstrap: K = 2 fits better than K = 1 on each sample


def test_class_enumeration_on_a_cluster_equals_the_serial_table(carcinoma, client):
    serial = bm.select_classes(bm.lca, carcinoma, ITEMS, k_min=1, k_max=2, starts=10, seed=2)
    remote = bm.select_classes(bm.lca, carcinoma, ITEMS, k_min=1, k_max=2, starts=10, seed=2, scheduler=client)
    pd.testing.assert_frame_equal(remote, serial, check_exact=False, atol=1e-8)
    assert serial.loc[2, "loglik"] == pytest.approx(-317.2568, abs=1e-3)  # carcinoma's known K = 2 optimum

    enum_serial = bm.enumerate_classes(bm.lca, carcinoma, ITEMS, classes=[1, 2], starts=10, seed=2,
                                       progressbar=False)
    enum_remote = bm.enumerate_classes(bm.lca, carcinoma, ITEMS, classes=[1, 2], starts=10, seed=2,
                                       scheduler=client)
    pd.testing.assert_frame_equal(enum_remote.table, enum_serial.table, check_exact=False, atol=1e-8)
    assert enum_remote.table.loc[2, "vlmr_p"] < 0.01  # the test ran on the returned fits
    m2, fit2 = enum_remote.fits[2]
    assert m2.n_classes == 2 and fit2.loglik == pytest.approx(serial.loc[2, "loglik"], abs=1e-8)


def test_sbc_on_a_cluster_equals_the_serial_run(client):
    case = sbc.make_case("lca", n_units=40, n_items=3)
    options = dict(draws=40, tune=60, chains=2, n_posterior=20, starts=2, seed=5)
    serial = sbc.run_sbc(case, 3, **options)
    remote = sbc.run_sbc(case, 3, scheduler=client, **options)
    pd.testing.assert_frame_equal(remote.truth, serial.truth)
    np.testing.assert_array_equal(remote.draws, serial.draws)
    pd.testing.assert_frame_equal(remote.ranks, serial.ranks)
    assert list(remote.fits["replication"]) == [0, 1, 2]


def test_montecarlo_serial_equals_the_cluster(client):
    serial = bm.montecarlo("lca_power_k2", replications=2, seed=4, fast=True, scheduler="serial")
    remote = bm.montecarlo("lca_power_k2", replications=2, seed=4, fast=True, scheduler=client)
    pd.testing.assert_frame_equal(remote.table, serial.table, check_exact=False, atol=1e-8)
    assert list(remote.replications["loglik"]) == pytest.approx(list(serial.replications["loglik"]), abs=1e-8)
    assert serial.replications["ok"].all()


def test_a_local_cluster_started_by_the_call_closes_quietly(caplog):
    import logging
    nanny = logging.getLogger("distributed.nanny")
    before = nanny.level
    with caplog.at_level(logging.INFO):
        assert map_tasks(_square, [(2, 1), (3, 1)], scheduler="local", n_workers=1) == [5, 10]
    assert nanny.level == before  # the shutdown quieting is undone
    assert not [r for r in caplog.records if r.name.startswith("distributed.nanny") and r.levelno >= logging.WARNING
                and "killing" in r.getMessage()]


def test_cli_without_the_dask_extra_says_what_to_install(monkeypatch, capsys):
    import sys

    from bayesmix.cli import main
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if `pip install 'bayesmix[dask]'` was not run
    assert main(["montecarlo", "lca_power_k2", "--replications", "1", "--fast"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'bayesmix[dask]'" in err and "Traceback" not in err
