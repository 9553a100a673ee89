#!/usr/bin/env bash
# One night of the nightly benchmark, locally or in CI (.github/workflows/nightly.yml runs this):
#   repeats of the nightly profile -> harness hot-path benchmarks -> compare with the previous night
#   -> publish the static site (history, change points, regressions.json, feed, latest report).
# Exit status: 0, or 1 when the comparison with the previous night found a regression (the site is
# published first either way); 2 on bad input.
#
# Settings (environment):
#   NIGHTS_DIR   where night folders live (default results/nightly); the previous night is the newest other one
#   NIGHT        this night's name (default: UTC date and time, e.g. 2026-12-02T0300)
#   SITE         site folder to write (default site)
#   HISTORY      history.parquet to extend (default $SITE/history.parquet)
#   PROFILE      run profile (default nightly: storagebench/profiles.py, with its repeats)
#   STORES, WORKLOADS, THREADS   what runs (embedded stores, YCSB a, c, e by default)
#   REPEATS, RECORDS, OPERATIONS  override the profile's repeats, recordcount, operationcount
#   MIN_EFFECT, ALPHA   minimum effect and family-wise significance level (Holm over the night's series) of
#                the comparison, the same for compare and publish (defaults 0.05, 0.05)
#   COMMIT_URL   link for a commit with {commit} in it (default: GitHub's, when GITHUB_REPOSITORY is set)
#   ENGINES      engines to start first with `storagebench services up` (default none)
#   HARNESS_BENCHMARKS=0 skips the harness benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."
SB="${SB:-.venv/bin/storagebench}"
PY="${PY:-.venv/bin/python}"
NIGHTS_DIR="${NIGHTS_DIR:-results/nightly}"
NIGHT="${NIGHT:-$(date -u +%Y-%m-%dT%H%M)}"
SITE="${SITE:-site}"
HISTORY="${HISTORY:-$SITE/history.parquet}"
STORES="${STORES:-sqlite,duckdb,localdir}"
WORKLOADS="${WORKLOADS:-a,c,e}"
PROFILE="${PROFILE:-nightly}"
THREADS="${THREADS:-1}"
MIN_EFFECT="${MIN_EFFECT:-0.05}"
ALPHA="${ALPHA:-0.05}"
ENGINES="${ENGINES:-}"
if [ -n "${GITHUB_REPOSITORY:-}" ]; then
  COMMIT_URL="${COMMIT_URL:-${GITHUB_SERVER_URL:-https://github.com}/$GITHUB_REPOSITORY/commit/{commit}}"
fi
publish_args=(--min-effect "$MIN_EFFECT" --alpha "$ALPHA")
if [ -n "${COMMIT_URL:-}" ]; then publish_args+=(--commit-url "$COMMIT_URL"); fi

night_dir="$NIGHTS_DIR/$NIGHT"
if [ -e "$night_dir" ]; then
  echo "scripts/nightly.sh: $night_dir already exists; choose another NIGHT" >&2
  exit 2
fi
previous="$(find "$NIGHTS_DIR" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort | tail -n 1 || true)"

if [ -n "$ENGINES" ]; then
  # shellcheck disable=SC2086
  "$SB" services up $ENGINES
fi

# one run folder, one result file per repeat (stores shuffled per repeat against drift)
run_args=(--stores "$STORES" --workloads "$WORKLOADS" --threads "$THREADS" --no-report
          --results-dir "$night_dir" --run-id run --profile "$PROFILE")
if [ -n "${REPEATS:-}" ]; then run_args+=(--repeat "$REPEATS"); fi
if [ -n "${RECORDS:-}" ]; then run_args+=(-p "recordcount=$RECORDS"); fi
if [ -n "${OPERATIONS:-}" ]; then run_args+=(-p "operationcount=$OPERATIONS" -p maxexecutiontime=0); fi
echo "== night $NIGHT: profile $PROFILE, $WORKLOADS on $STORES" >&2
"$SB" run "${run_args[@]}" >/dev/null

if [ "${HARNESS_BENCHMARKS:-1}" != "0" ]; then
  echo "== harness hot paths (pytest-benchmark)" >&2
  "$PY" -m pytest benchmarks/harness -q -p no:cacheprovider --benchmark-json="$night_dir/harness.json" \
    --benchmark-max-time="${BENCHMARK_MAX_TIME:-0.5}" >/dev/null
fi

status=0
if [ -n "$previous" ]; then
  echo "== compare $(basename "$previous") -> $NIGHT" >&2
  "$SB" compare "$previous" "$night_dir" --min-effect "$MIN_EFFECT" --alpha "$ALPHA" \
    --markdown "$night_dir/compare.md" --json "$night_dir/compare.json" --fail-on-regression || status=$?
  if [ "$status" -gt 1 ]; then exit "$status"; fi
else
  echo "first night: nothing to compare with" > "$night_dir/compare.md"
fi

echo "== publish $SITE" >&2
mapfile -t nights < <(find "$NIGHTS_DIR" -mindepth 1 -maxdepth 1 -type d | sort)
"$SB" publish "${nights[@]}" -o "$SITE" --history "$HISTORY" "${publish_args[@]}"
if [ "$status" -eq 1 ]; then
  echo "scripts/nightly.sh: regression against $(basename "$previous") (see $night_dir/compare.md)" >&2
fi
exit "$status"
