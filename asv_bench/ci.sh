#!/usr/bin/env bash
# CI smoke test of the benchmark suite (a few minutes on 2 CPU cores):
#   1. `asv check` in the existing environment,
#   2. a quick run of every benchmark once (`asv run --quick`, nothing saved),
#      at the smallest size of each parameter list (SNNAX_BENCH_SMALL=1),
#   3. the peers' float64 spike check (every installed peer, no timing).
# The meta-test (asv_bench/test_benchmark_definitions.py) runs with pytest.
# Exit status non-zero when anything fails (asv run exits 2 on a failed benchmark).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
py="${PYTHON:-python}"
conf="$here/asv.conf.json"
export SNNAX_BENCH_SMALL="${SNNAX_BENCH_SMALL:-1}"
machine="${ASV_MACHINE:-ci-$(hostname)}"
# asv's benchmark processes keep freed memory (asv_bench/allocator.py; not under
# SNNAX_BENCH_SYSTEM_ALLOCATOR=1): glibc reads these variables when they start.
eval "$("$py" "$here/allocator.py")"
# A track_ benchmark's process then imports no JAX (asv_bench/benchmarks/common.py).
export SNNAX_BENCH_DEVICE="${SNNAX_BENCH_DEVICE:-$(cd "$repo" && "$py" -c \
    'from asv_bench.benchmarks.common import device_id; print(device_id())')}"

# This run only checks that every benchmark works (its figures are not kept), so
# it compiles with the test suite's quicker XLA settings (spec_tests/quick_compile.py;
# SNNAX_REF_QUICK_COMPILE=off: XLA's defaults). history.sh and gate.py never do.
XLA_FLAGS="$(cd "$repo" && "$py" -c 'import os; from spec_tests import quick_compile
quick_compile.enable(); print(os.environ.get("XLA_FLAGS", ""))')"
export XLA_FLAGS

cd "$repo"
echo "== asv_bench: asv check"
"$py" -m asv machine --yes --machine "$machine" --config "$conf" >/dev/null
"$py" -m asv check -E existing --config "$conf"

echo "== asv_bench: asv run --quick (every benchmark once)"
"$py" -m asv run -E existing --quick --show-stderr --machine "$machine" --config "$conf"

echo "== asv_bench: peers spike check"
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" "$py" -W ignore -m asv_bench.peers --check-only
