"""Where repeated, independent fits run: in this process or on a dask cluster.

Monte Carlo studies (:func:`bayesmix.montecarlo`), simulation-based
calibration (:func:`bayesmix.sbc.run_sbc`), the bootstrap likelihood-ratio
test (:func:`bayesmix.blrt`) and class enumeration
(:func:`bayesmix.select_classes`, :func:`bayesmix.enumerate_classes`) repeat
one fit many times. They all take the same ``scheduler=`` argument, resolved
here, so a user who outgrows one machine points every one of them at a dask
cluster unchanged:

- ``"serial"``: one after another in this process;
- ``"local"``: a dask ``LocalCluster`` of ``n_workers`` processes with one
  thread each (the BLAS / OpenMP pools of its workers at one thread: dask's
  nanny sets ``OMP_NUM_THREADS=1`` and friends), started and closed by the call;
- an address such as ``"tcp://10.0.0.5:8786"``: the dask scheduler there
  (connected and disconnected by the call);
- a ``distributed.Client``: used as it is and left open (start one
  ``LocalCluster`` and reuse it for many calls);
- ``None``: the function's own default (``"local"`` for Monte Carlo,
  ``"serial"`` for the others).

Each task gets its own random stream (seeded before dispatch), so results do
not depend on where or in which order the tasks ran; the tests check that a
two-worker ``LocalCluster`` reproduces the serial results exactly.
Distributed runs need ``pip install 'bayesmix[dask]'``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

__all__ = ["map_tasks", "resolve_scheduler", "SCHEDULER_KINDS"]

#: the named kinds of ``scheduler=`` (besides an address or a Client)
SCHEDULER_KINDS = ("serial", "local")


def _is_client(scheduler: Any) -> bool:
    try:
        from distributed import Client
    except ImportError:
        return False
    return isinstance(scheduler, Client)


def resolve_scheduler(scheduler: Any, default: str = "serial", argument: str = "scheduler") -> str:
    """The kind of ``scheduler``: ``"serial"``, ``"local"``, ``"address"`` or ``"client"``.

    Raises a ValueError naming ``argument`` for anything else (checked before
    any fit starts).
    """
    if scheduler is None:
        scheduler = default
    if isinstance(scheduler, str):
        if scheduler in SCHEDULER_KINDS:
            return scheduler
        if "://" in scheduler or (":" in scheduler and scheduler.rsplit(":", 1)[-1].isdigit()):
            return "address"
        raise ValueError(f"{argument}={scheduler!r}: give 'serial', 'local' (a dask LocalCluster), a dask "
                         "scheduler address such as 'tcp://10.0.0.5:8786', or a distributed.Client.")
    if _is_client(scheduler):
        return "client"
    raise ValueError(f"{argument}={scheduler!r} ({type(scheduler).__name__}): give 'serial', 'local', a dask "
                     "scheduler address or a distributed.Client.")


@contextmanager
def _client(kind: str, scheduler: Any, n_workers: int | None) -> Iterator[Any]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ImportError(f"scheduler={scheduler!r} runs on dask.distributed: pip install 'bayesmix[dask]' "
                          "(or pass scheduler='serial').") from None
    if kind == "client":
        yield scheduler
        return
    if kind == "address":
        client = Client(scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(n_workers=n_workers or 2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    try:
        yield client
    finally:
        with _quiet_shutdown():
            client.close()
            cluster.close()


@contextmanager
def _quiet_shutdown() -> Iterator[None]:
    """Closing a LocalCluster after the work is done: dask's nanny logs "Worker process still alive after
    ... seconds, killing" when a worker takes a moment to exit, a line users read as a failure after a good
    run (issue 25). Its shutdown messages below ERROR are not shown while the cluster this call started closes."""
    import logging
    loggers = [logging.getLogger(name) for name in ("distributed.nanny", "distributed.process", "distributed.worker")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def map_tasks(function: Callable[..., Any], tasks: Sequence[tuple], *, scheduler: Any = None,
              default: str = "serial", n_workers: int | None = None, name: str = "bayesmix",
              on_result: Callable[[int, Any], None] | None = None) -> list:
    """``[function(*task) for task in tasks]``, run where ``scheduler`` says, in task order.

    Parameters
    ----------
    function : callable
        A module-level function (it is sent to dask workers by cloudpickle).
    tasks : sequence of tuple
        The positional arguments of each call.
    scheduler : str, distributed.Client or None
        See the module docstring; ``None`` means ``default``.
    default : str
        ``"serial"`` or ``"local"``.
    n_workers : int, optional
        Worker processes of a ``"local"`` cluster (default 2).
    name : str
        Prefix of the dask task keys.
    on_result : callable, optional
        ``on_result(index, result)`` as each task finishes (in completion
        order on a cluster), e.g. a progress line.

    Returns
    -------
    list
        The results in the order of ``tasks``.
    """
    kind = resolve_scheduler(scheduler, default)
    tasks = list(tasks)
    if kind == "serial":
        results = []
        for index, task in enumerate(tasks):
            results.append(function(*task))
            if on_result is not None:
                on_result(index, results[-1])
        return results
    import uuid
    token = uuid.uuid4().hex[:8]
    with _client(kind, scheduler, n_workers) as client:  # says what to install when dask is missing
        from dask.distributed import as_completed
        futures = [client.submit(function, *task, pure=False, key=f"{name}-{token}-{index}")
                   for index, task in enumerate(tasks)]
        position = {future.key: index for index, future in enumerate(futures)}
        results: list = [None] * len(tasks)
        for future in as_completed(futures):
            index = position[future.key]
            results[index] = future.result()
            if on_result is not None:
                on_result(index, results[index])
    return results
