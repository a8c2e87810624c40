"""pytest plugin: per-test wall and CPU seconds (self + reaped children) -> JSON lines in $CPUPROF_OUT."""
import json, os, resource, time
import pytest

def _cpu():
    s = resource.getrusage(resource.RUSAGE_SELF); c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    w0 = time.perf_counter(); s0, c0 = _cpu()
    yield
    w1 = time.perf_counter(); s1, c1 = _cpu()
    out = os.environ.get("CPUPROF_OUT")
    if out:
        with open(out, "a") as f:
            f.write(json.dumps({"nodeid": item.nodeid, "wall": w1 - w0, "cpu_self": s1 - s0,
                                "cpu_children": c1 - c0, "load1": os.getloadavg()[0]}) + "\n")
