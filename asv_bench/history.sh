#!/usr/bin/env bash
# Build the asv history of snnax_ref across commits, offline, then publish.
#
#   asv_bench/history.sh            # the last 5 commits of HEAD
#   asv_bench/history.sh 3          # the last 3
#   asv_bench/history.sh v0.1..HEAD # a git revision range
#
# For each commit (oldest first): export its tree into a scratch folder (the
# package is pure Python: the tree's root on PYTHONPATH is the install, no
# build step, no pip, and the interpreter's own snnax_ref is never touched),
# check that `snnax_ref` imports from there, run the suite of the *current*
# checkout against it in the existing environment with --set-commit-hash (asv
# sees the tree through ASV_PYTHONPATH), then `asv publish`, after every commit. `asv preview`
# serves the result. Exits 1, with nothing published, when no commit could be
# benchmarked. A commit where some benchmarks fail (asv exit 2: say the suite
# uses an API the old commit lacks) keeps the results of the others.
#
# Environment:
#   PYTHON         interpreter with jax, equinox, asv (default: python)
#   ASV_MACHINE    machine name (default: <hostname>-<jax backend>-<device kind>)
#   ASV_RUN_ARGS   extra `asv run` arguments, e.g. "--bench LinearLIF --show-stderr"
#   SNNAX_BENCH_SMALL=1  a quick history: the smallest size of each benchmark,
#                  the tracked figures only (`--bench track_`: each workload's
#                  one setup_cache measurement; asv's own time_/peakmem_
#                  repeats skipped) unless ASV_RUN_ARGS names --bench
#   SNNAX_BENCH_SYSTEM_ALLOCATOR=1  glibc's default malloc (asv_bench/allocator.py)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(git -C "$here" rev-parse --show-toplevel)"
py="${PYTHON:-python}"
conf="$here/asv.conf.json"
spec="${1:-5}"
# asv's benchmark processes keep freed memory (asv_bench/allocator.py; not under
# SNNAX_BENCH_SYSTEM_ALLOCATOR=1): glibc reads these variables when they start.
eval "$("$py" "$here/allocator.py")"
# A track_ benchmark's process then imports no JAX (asv_bench/benchmarks/common.py).
export SNNAX_BENCH_DEVICE="${SNNAX_BENCH_DEVICE:-$(cd "$repo" && "$py" -c \
    'from asv_bench.benchmarks.common import device_id; print(device_id())')}"

if [[ "$spec" =~ ^[0-9]+$ ]]; then
    commits="$(git -C "$repo" rev-list --reverse --max-count="$spec" HEAD)"
else
    commits="$(git -C "$repo" rev-list --reverse "$spec")"
fi
[[ -n "$commits" ]] || { echo "history.sh: no commits in '$spec'" >&2; exit 1; }

machine="${ASV_MACHINE:-$(hostname)-$("$py" -c '
import jax
print(jax.default_backend() + "-" + jax.devices()[0].device_kind.replace(" ", "_"))')}"
echo "history.sh: machine $machine"
"$py" -m asv machine --yes --machine "$machine" --config "$conf" >/dev/null

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
read -r -a run_args <<< "${ASV_RUN_ARGS:-}"
if [[ "${SNNAX_BENCH_SMALL:-0}" != "0" && -n "${SNNAX_BENCH_SMALL:-}" \
      && " ${ASV_RUN_ARGS:-} " != *" --bench"* && " ${ASV_RUN_ARGS:-} " != *" -b "* ]]; then
    run_args+=(--bench track_)
fi

ok=0
failed=0
partial=0
for commit in $commits; do
    short="$(git -C "$repo" rev-parse --short "$commit")"
    rm -rf "$work/src"
    mkdir -p "$work/src"
    git -C "$repo" archive "$commit" | tar -x -C "$work/src"
    if [[ ! -f "$work/src/snnax_ref/__init__.py" ]]; then
        echo "history.sh: $short has no snnax_ref package, skipped" >&2
        continue
    fi
    if ! (cd "$work" && PYTHONPATH="$work/src" "$py" -c "
import sys, snnax_ref
sys.exit(0 if snnax_ref.__file__.startswith('$work/src') else 1)") >"$work/import.log" 2>&1; then
        echo "history.sh: $short: snnax_ref does not import from its tree, skipped:" >&2
        tail -5 "$work/import.log" >&2
        continue
    fi
    echo "history.sh: $short ($(git -C "$repo" log -1 --format=%s "$commit"))"
    # Run from the scratch folder, so that the checkout's own snnax_ref is never
    # on sys.path (only the commit's tree, through ASV_PYTHONPATH).
    status=0
    (cd "$work" && ASV_PYTHONPATH="$work/src" "$py" -m asv run --config "$conf" -E existing \
        --set-commit-hash "$commit" --machine "$machine" "${run_args[@]}") || status=$?
    case $status in
        0) ok=$((ok + 1)) ;;
        2) echo "history.sh: $short: some benchmarks failed (results kept)" >&2
           ok=$((ok + 1)); partial=$((partial + 1)) ;;
        *) echo "history.sh: $short: asv run failed (exit $status)" >&2
           failed=$((failed + 1)) ;;
    esac
    # Published after every commit: the dashboard is readable while the rest run.
    if (( ok > 0 && (status == 0 || status == 2) )); then
        "$py" -m asv publish --config "$conf" >"$work/publish.log" 2>&1 \
            || { cat "$work/publish.log" >&2; exit 1; }
        echo "history.sh: dashboard updated ($ok commit(s) so far): $here/html/index.html"
    fi
done

if (( ok == 0 )); then
    echo "history.sh: no commit could be benchmarked; nothing to publish" >&2
    exit 1
fi
echo "history.sh: $ok commit(s) benchmarked ($partial with failed benchmarks), $failed not; html in $here/html"
echo "history.sh: view it with: $py -m asv preview --config $conf"
