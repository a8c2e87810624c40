"""pytest plugin: where a cold test run's time goes (issue 26 item 5), per test and per process.

Load with ``PYTHONPATH=benchmarks COMPILE_PROBE_DIR=<dir> pytest -p compile_probe ...`` (with xdist every
worker loads it). Each process appends JSON lines to ``<dir>/<pid>.jsonl``:

- ``{"kind": "test", ...}`` per test phase (setup/call/teardown): the process's own CPU s, its waited
  children's CPU s (g++, notebook kernels, subprocesses), wall s, and what PyTensor's C backend did meanwhile:
  ``c_compiles`` (modules built), ``gxx_wall`` / ``gxx_child_cpu`` (wall and children's CPU inside
  ``CLinker.compile_cmodule``), ``lock_wait`` (s waiting to acquire the compiledir lock), ``lock_hold``
  (s holding it), ``numba_compile`` (s of outermost numba compiles), ``nutpie_compile`` (s in
  ``nutpie.compile_pymc_model``), ``jax_compile`` (s of XLA backend compiles);
- ``{"kind": "module", "src": sha1 of the C source, ...}`` per compiled C module, so duplicate compiles of the
  same module by two workers with separate compiledirs can be counted.

Nothing here changes what a test does; it wraps and times.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import time
from contextlib import contextmanager

import pytest

_OUT = os.environ.get("COMPILE_PROBE_DIR")
_acc = {"c_compiles": 0, "gxx_wall": 0.0, "gxx_child_cpu": 0.0, "lock_wait": 0.0, "lock_hold": 0.0,
        "lock_acquires": 0, "numba_compile": 0.0, "nutpie_compile": 0.0, "jax_compile": 0.0}
_current = {"test": None}
_installed = {"jax": False}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _write(record: dict) -> None:
    if not _OUT:
        return
    with open(os.path.join(_OUT, f"{os.getpid()}.jsonl"), "a") as f:
        f.write(json.dumps(record) + "\n")


def _install() -> None:
    import pytensor.compile.compilelock as compilelock
    import pytensor.link.c.basic as cbasic
    import pytensor.link.c.cmodule as cmodule
    import pytensor.link.c.cutils as cutils
    import pytensor.link.c.lazylinker_c as lazylinker_c
    from pytensor.configdefaults import config

    original_lock_ctx = compilelock.lock_ctx

    @contextmanager
    def timed_lock_ctx(lock_dir=None, *, timeout=None):
        from filelock import FileLock
        lock_dir = config.compiledir if lock_dir is None else lock_dir
        dir_key = f"{lock_dir}-{os.getpid()}"
        if dir_key in compilelock.local_mem._locks:  # re-entrant: already held by this thread
            yield
            return
        start = time.perf_counter()
        fl = FileLock(os.path.join(str(lock_dir), ".lock"))
        fl.acquire(timeout=config.compile__timeout if timeout is None else timeout)
        got = time.perf_counter()
        _acc["lock_wait"] += got - start
        _acc["lock_acquires"] += 1
        compilelock.local_mem._locks[dir_key] = True
        try:
            yield
        finally:
            if fl.is_locked:
                fl.release()
            compilelock.local_mem._locks.pop(dir_key, None)
            _acc["lock_hold"] += time.perf_counter() - got

    timed_lock_ctx.__wrapped__ = original_lock_ctx
    for mod in (compilelock, cbasic, cmodule, cutils, lazylinker_c):
        mod.lock_ctx = timed_lock_ctx

    original_compile = cbasic.CLinker.compile_cmodule

    def compile_cmodule(self, location=None):
        src = hashlib.sha1(self.get_dynamic_module().code().encode()).hexdigest()
        w, c = time.perf_counter(), _children_cpu()
        module = original_compile(self, location)
        wall, child = time.perf_counter() - w, _children_cpu() - c
        _acc["c_compiles"] += 1
        _acc["gxx_wall"] += wall
        _acc["gxx_child_cpu"] += child
        _write({"kind": "module", "pid": os.getpid(), "test": _current["test"], "src": src,
                "wall": round(wall, 3), "child_cpu": round(child, 3)})
        return module

    cbasic.CLinker.compile_cmodule = compile_cmodule

    try:
        from numba.core import event

        class Listener(event.Listener):
            depth = 0
            start = 0.0

            def on_start(self, ev):
                if Listener.depth == 0:
                    Listener.start = time.perf_counter()
                Listener.depth += 1

            def on_end(self, ev):
                Listener.depth -= 1
                if Listener.depth == 0:
                    _acc["numba_compile"] += time.perf_counter() - Listener.start

        event.register("numba:compile", Listener())
    except Exception:  # numba absent or its event API changed: no numba figure
        pass

    try:
        import nutpie
        import nutpie.compile_pymc as ncp
        original_nutpie = ncp.compile_pymc_model

        def compile_pymc_model(*args, **kwargs):
            t = time.perf_counter()
            try:
                return original_nutpie(*args, **kwargs)
            finally:
                _acc["nutpie_compile"] += time.perf_counter() - t

        ncp.compile_pymc_model = compile_pymc_model
        nutpie.compile_pymc_model = compile_pymc_model
    except ImportError:
        pass


def _install_jax_listener() -> None:
    import sys
    if _installed["jax"] or "jax" not in sys.modules:
        return
    _installed["jax"] = True
    try:
        import jax.monitoring

        def on_duration(name, seconds, **kwargs):
            if name == "/jax/compilation/backend_compile_duration":
                _acc["jax_compile"] += seconds

        jax.monitoring.register_event_duration_secs_listener(on_duration)
    except Exception:
        pass


def _phase(item, when):
    if not _installed.get("c"):  # at the first test, after tests/conftest.py has set the thread environment
        _installed["c"] = True
        _install()
    _install_jax_listener()
    _current["test"] = item.nodeid
    before = dict(_acc)
    t, self0, child0 = time.perf_counter(), os.times(), _children_cpu()
    yield
    self1 = os.times()
    record = {"kind": "test", "pid": os.getpid(), "test": item.nodeid, "file": item.path.name, "when": when,
              "wall": round(time.perf_counter() - t, 3),
              "cpu": round(self1.user + self1.system - self0.user - self0.system, 3),
              "child_cpu": round(_children_cpu() - child0, 3),
              "load1": round(os.getloadavg()[0], 2)}
    record.update({k: round(_acc[k] - before[k], 3) for k in _acc})
    _write(record)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    yield from _phase(item, "setup")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    yield from _phase(item, "call")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    yield from _phase(item, "teardown")
