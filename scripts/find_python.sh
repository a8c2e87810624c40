#!/usr/bin/env bash
# Print the path of a Python >= 3.12 (needed by PyMC 6), or explain and exit 1.
#
# Order: $PYTHON; python3.13, python3.12, python3 on PATH; pyenv installs
# ($(pyenv root)/versions/3.1[2-9]*); /usr/bin/python3.12; /usr/local/bin/python3.1*.
# Every candidate is actually run: pyenv shims exist on PATH even when they
# fail ("pyenv: python3.12: command not found"), so existence is not enough.
set -u

MIN_MAJOR=3
MIN_MINOR=12

# A candidate is good if it runs, is >= 3.12 and can create a venv with pip.
check() {
    local py=$1 out
    out=$("$py" -c "import sys, venv, ensurepip; print(sys.executable if sys.version_info >= ($MIN_MAJOR, $MIN_MINOR) else '')" 2>/dev/null) || return 1
    [ -n "$out" ] || return 1
    printf '%s\n' "$out"
}

if [ -n "${PYTHON:-}" ]; then
    if check "$PYTHON"; then
        exit 0
    fi
    echo "PYTHON=$PYTHON is not a working Python >= $MIN_MAJOR.$MIN_MINOR (with venv and ensurepip)." >&2
    echo "bayesmix needs Python >= 3.12 (PyMC 6 requires it); install one (e.g. pyenv install 3.12) or set PYTHON=/path/to/python3.12" >&2
    exit 1
fi

for name in python3.13 python3.12 python3; do
    if command -v "$name" >/dev/null 2>&1 && check "$name"; then
        exit 0
    fi
done

if command -v pyenv >/dev/null 2>&1; then
    pyenv_root=$(pyenv root 2>/dev/null || true)
else
    pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
fi
candidates=()
if [ -n "$pyenv_root" ] && [ -d "$pyenv_root/versions" ]; then
    for py in "$pyenv_root"/versions/3.1[2-9]*/bin/python3; do
        candidates+=("$py")
    done
fi
candidates+=(/usr/bin/python3.12 /usr/local/bin/python3.1*)

for py in "${candidates[@]}"; do
    if [ -x "$py" ] && check "$py"; then
        exit 0
    fi
done

echo "bayesmix needs Python >= 3.12 (PyMC 6 requires it); install one (e.g. pyenv install 3.12) or set PYTHON=/path/to/python3.12" >&2
exit 1
