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
#   DATASET_STORES  stores that keep one named data set from night to night (default none): loaded once
#                (DATASET_RECORDS records, default 10000000, as data set DATASET, default nightly, by
#                DATASET_PROCESSES processes, default 2), reloaded only when a killed night left it incomplete
#                or unusable; each night DATASET_WORKLOADS (default c,a) run on it with DATASET_CLIENTS clients
#                (default 4) for DATASET_SECONDS each (default 60), DATASET_REPEATS times (default 5: with
#                fewer, no change can be significant at alpha 0.05 over its series). Its nights live in $NIGHTS_DIR-dataset and
#                are compared and published on their own, to $SITE/dataset: their figures are of another data
#                size and never share a history series with the profile's runs.
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

# the data set nights: one load, kept; a run on it every night (its generation grows)
DATASET_STORES="${DATASET_STORES:-}"
if [ -n "$DATASET_STORES" ]; then
  DATASET="${DATASET:-nightly}"
  dataset_nights="$NIGHTS_DIR-dataset"
  dataset_dir="$dataset_nights/$NIGHT"
  if [ -e "$dataset_dir" ]; then
    echo "scripts/nightly.sh: $dataset_dir already exists; choose another NIGHT" >&2
    exit 2
  fi
  dataset_previous="$(find "$dataset_nights" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort | tail -n 1 || true)"
  IFS=, read -r -a dataset_stores <<< "$DATASET_STORES"
  for store in "${dataset_stores[@]}"; do
    listed="$("$SB" datasets list --stores "$store" | grep "^$store: $DATASET " || true)"
    case "$listed" in
      *"  complete  "*) echo "== data set $DATASET on $store kept: ${listed#*  complete  }" >&2; continue ;;
      "") ;;
      *) echo "== data set $DATASET on $store is not usable, dropped and loaded again: $listed" >&2
         "$SB" datasets drop "$DATASET" --stores "$store" >/dev/null ;;
    esac
    echo "== load data set $DATASET on $store: ${DATASET_RECORDS:-10000000} records" >&2
    "$SB" load --dataset "$DATASET" --stores "$store" --workloads c --processes "${DATASET_PROCESSES:-2}" \
      -p "recordcount=${DATASET_RECORDS:-10000000}" -p loadbatchsize=1000 --no-report \
      --results-dir "$dataset_nights-loads" --run-id "$NIGHT-$store" >/dev/null
  done
  echo "== night $NIGHT on data set $DATASET: ${DATASET_WORKLOADS:-c,a} on $DATASET_STORES" >&2
  "$SB" run --dataset "$DATASET" --stores "$DATASET_STORES" --workloads "${DATASET_WORKLOADS:-c,a}" \
    --clients "${DATASET_CLIENTS:-4}" -p operationcount=0 -p "maxexecutiontime=${DATASET_SECONDS:-60}" \
    --repeat "${DATASET_REPEATS:-5}" --no-report --results-dir "$dataset_dir" --run-id run >/dev/null
fi

# compare night folder $2 with the night before, $1: returns 1 on a regression, exits on a refusal
judge() {
  local rc=0
  echo "== compare $(basename "$1") -> $(basename "$2") ($(basename "$(dirname "$2")"))" >&2
  "$SB" compare "$1" "$2" --min-effect "$MIN_EFFECT" --alpha "$ALPHA" \
    --markdown "$2/compare.md" --json "$2/compare.json" --fail-on-regression || rc=$?
  if [ "$rc" -gt 1 ]; then exit "$rc"; fi
  return "$rc"
}

status=0
if [ -n "${dataset_previous:-}" ]; then
  judge "$dataset_previous" "$dataset_dir" || { dataset_status=1; status=1; }
elif [ -n "$DATASET_STORES" ]; then
  echo "first night on the data set: nothing to compare with" > "$dataset_dir/compare.md"
fi
if [ -n "$DATASET_STORES" ]; then
  echo "== publish $SITE/dataset" >&2
  mapfile -t dataset_all < <(find "$dataset_nights" -mindepth 1 -maxdepth 1 -type d | sort)
  "$SB" publish "${dataset_all[@]}" -o "$SITE/dataset" "${publish_args[@]}"
fi

if [ -n "$previous" ]; then
  judge "$previous" "$night_dir" || { main_status=1; status=1; }
else
  echo "first night: nothing to compare with" > "$night_dir/compare.md"
fi

echo "== publish $SITE" >&2
mapfile -t nights < <(find "$NIGHTS_DIR" -mindepth 1 -maxdepth 1 -type d | sort)
"$SB" publish "${nights[@]}" -o "$SITE" --history "$HISTORY" "${publish_args[@]}"
if [ "${main_status:-0}" -eq 1 ]; then
  echo "scripts/nightly.sh: regression against $(basename "$previous") (see $night_dir/compare.md)" >&2
fi
if [ "${dataset_status:-0}" -eq 1 ]; then
  echo "scripts/nightly.sh: regression on data set $DATASET against $(basename "$dataset_previous") (see $dataset_dir/compare.md)" >&2
fi
exit "$status"
