#!/usr/bin/env bash
# `make matrix`: run the e2e and trigger tests on every supported Airflow minor release, each in its own
# venv (.matrix/<minor>), with the newest patch release of that minor from PyPI.
#
#   scripts/matrix.sh                 # 3.1, 3.2 and 3.3
#   scripts/matrix.sh 3.2             # one minor release
#   MATRIX_PYTEST_ARGS="-x -q" scripts/matrix.sh
#
# A venv is (re)installed when it is missing or pyproject.toml changed since it was built; the newest
# patch is resolved at install time (`apache-airflow~=3.N.0`). `rm -rf .matrix` starts afresh.
# Results (version installed, pytest summary, install and test durations) go to .matrix/results.md and
# stdout. Exits non-zero if any version failed.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VERSIONS=("$@")
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(3.1 3.2 3.3)
# The tests that exercise Airflow itself: real dag.test() runs, triggers, the decorator and OpenLineage.
TESTS="${MATRIX_TESTS:-tests/e2e tests/triggers tests/decorators tests/integrations tests/test_compat.py}"
PYTEST_ARGS="${MATRIX_PYTEST_ARGS:--q -p no:cacheprovider}"
RESULTS=.matrix/results.md
mkdir -p .matrix
[ -f "$RESULTS" ] || printf '| minor | Airflow | pytest | install | tests |\n|---|---|---|---|---|\n' >"$RESULTS"
overall=0

# Optional pins per minor release (pip -c), for what an unconstrained install of that release gets wrong.
constraints_of() { [ -f "scripts/matrix-constraints-$1.txt" ] && echo "scripts/matrix-constraints-$1.txt"; }
fingerprint() { cat pyproject.toml $(constraints_of "$1") | sha256sum | cut -c1-16; }

install() {  # $1 = minor release; echoes nothing, returns pip's status
    local venv=".matrix/$1" stamp=".matrix/$1/.installed"
    local pins
    pins=$(constraints_of "$1")
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(fingerprint "$1")" ]; then
        return 0
    fi
    [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv" || return 1
    "$venv/bin/python" -m pip install -q --upgrade pip || return 1
    "$venv/bin/python" -m pip install -q -e ".[test]" "apache-airflow~=$1.0" ${pins:+-c "$pins"} || return 1
    fingerprint "$1" >"$stamp"
}

for minor in "${VERSIONS[@]}"; do
    echo "===== Airflow $minor: installing into .matrix/$minor"
    t0=$(date +%s)
    if ! install "$minor"; then
        echo "| $minor | install failed | - | $(($(date +%s) - t0)) s | - |" >>"$RESULTS"
        overall=1
        continue
    fi
    t1=$(date +%s)
    version=$(".matrix/$minor/bin/python" -c "import airflow; print(airflow.__version__)")
    echo "===== Airflow $version: pytest $TESTS"
    # shellcheck disable=SC2086  # word splitting of the test list and args is intended
    ".matrix/$minor/bin/python" -m pytest $TESTS $PYTEST_ARGS 2>&1 | tee ".matrix/$minor/pytest.log"
    status=${PIPESTATUS[0]}
    t2=$(date +%s)
    summary=$(grep -E "(passed|failed|error).* in [0-9.]+s" ".matrix/$minor/pytest.log" | tail -1 | tr -d '=' | xargs)
    echo "| $minor | $version | ${summary:-no summary (exit $status)} | $((t1 - t0)) s | $((t2 - t1)) s |" \
        | tee -a "$RESULTS"
    [ "$status" -eq 0 ] || overall=1
done
exit $overall
