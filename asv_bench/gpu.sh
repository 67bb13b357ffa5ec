#!/usr/bin/env bash
# The GPU benchmark run, prepared to fit a short loan of a GPU machine (about
# 8 minutes on one H100): run it from the repository root there.
#
#   OUT=/some/folder SNNAX_COMMIT=$(git rev-parse HEAD) bash asv_bench/gpu.sh
#   (SKIP_PEERS=1: the asv part only; PEERS_SECONDS, ASV_SECONDS: time boxes)
#
# 1. installs what the machine lacks from wheels in .device/wheels (offline:
#    pip download them here first, see asv_bench/README.md) unless already
#    importable; JAX with CUDA must be there;
# 2. workload (a) side by side (python -m asv_bench.peers): snnax_ref's
#    default (graph) schedule, the same without the fused LIF scan
#    (snnax_ref-readable), its step schedule, hand-written JAX, upstream
#    SNNAX when .device/upstream/src or $SNNAX_UPSTREAM_PATH holds it, and the
#    GPU's own GEMM floor, at n = 2048, 4096, 16384, forward and
#    forward+backward, in alternating rounds in one process;
# 3. asv: GemmFloor, then LinearLIF's track_ benchmarks (the floor-ratio
#    tracks; their setup_cache measures every size once), saved under
#    $OUT/asv-results for this commit, each run time-boxed by ASV_SECONDS (240;
#    the five sizes took about 230 s on an H100);
# 4. writes $OUT/gpu-table.md (device, JAX version, the table) and
#    $OUT/peers.json.
#
# GPU_SMOKE=1 runs everything at toy sizes (a try on a CPU before the loan).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p "${OUT:-gpu-out}"
out="$(cd "${OUT:-gpu-out}" && pwd)"
py="${PYTHON:-python}"
start=$SECONDS
# asv's benchmark processes keep freed memory (asv_bench/allocator.py; not under
# SNNAX_BENCH_SYSTEM_ALLOCATOR=1): glibc reads these variables when they start.
eval "$("$py" "asv_bench/allocator.py")"

if ! "$py" -c "import equinox, asv" 2>/dev/null; then
    # One wheel at a time: a wheel built for another Python (pyyaml) must not
    # stop the others; what the machine already has is kept.
    for wheel in .device/wheels/*.whl; do
        name="$(basename "$wheel" | cut -d- -f1)"
        "$py" -c "import importlib.metadata as m, sys; m.version(sys.argv[1])" "$name" 2>/dev/null \
            && continue
        "$py" -m pip install --quiet --no-index --no-deps "$wheel" 2>/dev/null || true
    done
    "$py" -c "import equinox, asv" || echo "gpu.sh: equinox or asv missing; asv part will fail"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [[ -z "${SNNAX_UPSTREAM_PATH:-}" && -d .device/upstream/src ]]; then
    export SNNAX_UPSTREAM_PATH="$PWD/.device/upstream/src"
fi

"$py" - <<'EOF' | tee "$out/device.txt"
import jax, platform
d = jax.devices()[0]
print(f"device: {jax.default_backend()}:{d.device_kind} x{jax.device_count()}; "
      f"jax {jax.__version__}; host {platform.processor() or platform.machine()}")
EOF

if [[ "${GPU_SMOKE:-0}" == 1 ]]; then
    ns=(64 128); rounds=2; steps=50; export SNNAX_BENCH_SMALL=1
else
    ns=(2048 4096 16384); rounds=5; steps=500
fi
peers=(snnax_ref snnax_ref-readable snnax_ref-step jax-hoisted snnax-upstream)
if [[ "${SKIP_PEERS:-0}" != 1 ]]; then
    echo "== peers: n=${ns[*]}, T=$steps, $rounds rounds"
    timeout "${PEERS_SECONDS:-330}" "$py" -W ignore -m asv_bench.peers --n "${ns[@]}" \
        --steps "$steps" --rounds "$rounds" --peers "${peers[@]}" --json "$out/peers.json" \
        2>&1 | tee "$out/peers.txt"
    echo "peers: $((SECONDS - start)) s so far"
fi

echo "== asv: GemmFloor, LinearLIF.track_*"
(
    cd asv_bench
    # SNNAX_COMMIT names the commit this tree is (a copy may lack its .git).
    commit="${SNNAX_COMMIT:-$(git rev-parse HEAD 2>/dev/null)}"
    if [[ -z "$commit" ]] || ! git cat-file -e "$commit^{commit}" 2>/dev/null; then
        # A copy without that commit: a one-commit repository of this tree, so
        # that asv can key the results (the commit's own hash is in device.txt).
        echo "tree of commit ${commit:-unknown}" | tee -a "$out/device.txt"
        git init -q "$PWD/.." 2>/dev/null || true
        git -C .. -c user.name=gpu -c user.email=gpu@run add -A >/dev/null 2>&1
        git -C .. -c user.name=gpu -c user.email=gpu@run commit -qm "gpu run" >/dev/null 2>&1
        commit="$(git rev-parse HEAD)"
    fi
    echo "asv commit $commit" | tee -a "$out/device.txt"
    "$py" -m asv machine --yes --machine "gpu-$(hostname)" >/dev/null
    # One asv run per benchmark class: asv saves a run's results when it ends,
    # so a time box that cuts the second run keeps the first's.
    for bench in GemmFloor 'LinearLIF\.track_'; do
        ASV_PYTHONPATH="$(cd .. && pwd)" timeout "${ASV_SECONDS:-240}" "$py" -m asv run \
            -E existing --set-commit-hash "$commit" --machine "gpu-$(hostname)" \
            --bench "$bench" --show-stderr 2>&1 | tail -40
    done
    mkdir -p "$out/asv-results" && cp -r results/. "$out/asv-results/"
) 2>&1 | tee "$out/asv.txt"

{
    echo "# GPU run"
    echo
    cat "$out/device.txt"
    echo
    "$py" -c "import json,sys; print(json.load(open(sys.argv[1]))['table'])" "$out/peers.json" \
        2>/dev/null || echo "(no peers table: see peers.txt)"
    echo
    echo "total $((SECONDS - start)) s"
} > "$out/gpu-table.md"
cat "$out/gpu-table.md"
