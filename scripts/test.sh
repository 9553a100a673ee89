#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: venv, packages, the real engines, pytest.
# With CI=true a missing engine fails the run; locally the engine's tests skip with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."

# Engines the test suite starts, cached after the first time: every engine `storagebench services` knows
# (each registered store's folder with a service.py, and Spark), or the names in STORAGEBENCH_TEST_ENGINES
# ("" for none).
ENGINES="${STORAGEBENCH_TEST_ENGINES-all}"

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[all,spark,dev]'

# The browser test (tests/report/test_browser.py) drives Debian's chromium through Playwright
# (Playwright's own browser download is not used).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -q chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium >/dev/null; }
  elif [ "${CI:-}" = "true" ]; then
    echo "scripts/test.sh: /usr/bin/chromium missing; run: sudo apt-get install -y chromium" >&2
    exit 1
  else
    echo "scripts/test.sh: /usr/bin/chromium missing (sudo apt-get install -y chromium); browser tests will skip" >&2
  fi
fi

if [ -n "$ENGINES" ]; then
  [ "$ENGINES" = all ] && ENGINES=""
  # shellcheck disable=SC2086
  if ! .venv/bin/storagebench services up $ENGINES; then
    if [ "${CI:-}" = "true" ]; then
      echo "scripts/test.sh: an engine could not start (see the message above); CI=true, failing" >&2
      exit 1
    fi
    echo "scripts/test.sh: some engines are not up; their tests will skip with the reason" >&2
  fi
  .venv/bin/storagebench services status || true
fi

exec .venv/bin/python -m pytest "$@"
