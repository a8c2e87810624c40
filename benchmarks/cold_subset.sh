#!/bin/sh
# A cold run of the heaviest test files (issue 26 item 5): -n 2 --dist loadfile, EMPTY PyTensor compiledir and
# numba cache, with benchmarks/compile_probe.py recording per test CPU, g++ children, C modules, lock waits.
# usage: benchmarks/cold_subset.sh <label> [extra pytest args]; writes _logs/cold_<label>/ (probe/, pytest.log,
# time.txt, modules.txt). Extra environment (e.g. BAYESMIX_TEST_COMPILEDIR) passes through.
set -u
label=$1; shift
here=$(cd "$(dirname "$0")/.." && pwd)
out=$here/_logs/cold_$label
rm -rf "$out"; mkdir -p "$out/probe"
cache=$(mktemp -d /tmp/cold_cache.XXXXXX)
FILES=${COLD_FILES:-"tests/test_mixture_regression.py tests/test_sbc.py tests/test_lta.py tests/test_fma.py tests/test_gom.py tests/test_sampling.py tests/test_adaptive_quadrature.py tests/test_golden.py tests/test_mixed_items.py tests/test_two_level.py"}
cd "$here"
uptime > "$out/uptime_before.txt"
/usr/bin/time -f "real %e user %U sys %S" -o "$out/time.txt" env PYTHONPATH="$here:$here/benchmarks" \
  COMPILE_PROBE_DIR="$out/probe" PYTENSOR_FLAGS="base_compiledir=$cache/pytensor" NUMBA_CACHE_DIR="$cache/numba" \
  /work/main/.venv/bin/python -m pytest -q -p no:cacheprovider -p compile_probe -n 2 --dist loadfile --durations=0 \
  "$@" $FILES > "$out/pytest.log" 2>&1
uptime > "$out/uptime_after.txt"
find "$cache/pytensor" -mindepth 2 -maxdepth 3 -type d -name 'tmp*' | sed "s|$cache/pytensor/||" > "$out/modules.txt"
rm -rf "$cache"
