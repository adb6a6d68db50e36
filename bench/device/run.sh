#!/usr/bin/env bash
# Issue D's measurements in one GPU-machine call (prepared by bench/device/prepare.sh; run by the
# `device` tool with `carry: [".device", ".gl"]`). For each carried xtask build:
#   1. the correctness gate (`cargo xtask gate`: 5 full GAN steps at 64x64, batch 64, against
#      flex on this machine's CPUs) with burn's convolutions, then with the matmul ones;
#   2. `cargo xtask bench` on wgpu, the issue's 64x64 step at batch 64 and 256, both
#      convolution algorithms (the results file is rewritten after every figure);
#   3. one profiled generator step (CubeCL's per-kernel timing), summed by kernel.
# With --pytorch, then the PyTorch reference (bench/ganomaly_reference.py), TF32 on and off.
# Everything lands in $OUT/results.tar.gz (gate/, bench/, profile/, log.txt).
#
# Usage there: bash bench/device/run.sh [TAG ...] [--pytorch]
#   TAG: which carried builds (.device/xtask-TAG.gz: wgsl, spirv, spirv-autotune-fusion, ...);
#   default all. A call may run 10 minutes: split the builds over calls if needed.
# Timeouts in seconds, per build: GATE_S (each gate), BENCH_S, PROFILE_S.
set -uo pipefail
cd "$(dirname "$0")/../.."
tags=()
pytorch=0
for arg in "$@"; do
  if [ "$arg" = --pytorch ]; then pytorch=1; else tags+=("$arg"); fi
done
if [ ${#tags[@]} -eq 0 ]; then
  for gz in .device/xtask-*.gz; do
    name=$(basename "$gz" .gz)
    tags+=("${name#xtask-}")
  done
fi
GATE_S=${GATE_S:-90}
BENCH_S=${BENCH_S:-150}
PROFILE_S=${PROFILE_S:-45}
out=${OUT:-/tmp/lran-device-out}
mkdir -p "$out/r/gate" "$out/r/bench" "$out/r/profile"
exec > >(tee "$out/r/log.txt") 2>&1

if [ -d .gl ] && ! ldconfig -p | grep -q libvulkan; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
if ! ls /usr/share/vulkan/icd.d/*nvidia* /etc/vulkan/icd.d/*nvidia* >/dev/null 2>&1 &&
  [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
# The binaries were built elsewhere: where the repository is, and which commit they are.
export CARGO_MANIFEST_DIR=$PWD
LRAN_COMMIT=$(cat .device/COMMIT 2>/dev/null || echo unknown)
export LRAN_COMMIT
nvidia-smi -L || true
echo "cpus: $(nproc)"

for tag in "${tags[@]}"; do
  bin=/tmp/xtask-$tag
  if ! gunzip -c ".device/xtask-$tag.gz" > "$bin"; then
    echo "no build $tag"
    continue
  fi
  chmod +x "$bin"
  echo "=== $tag ($(date +%T))"
  timeout "$GATE_S" "$bin" --conv native gate --out "$out/r/gate/native" ||
    echo "gate $tag native: exit $?"
  timeout "$BENCH_S" "$bin" bench --backends wgpu --shapes ganomaly64 --batches 64,256 \
    --warmup 2 --runs 3 --steps-per-run 5 --out "$out/r/bench" || echo "bench $tag: exit $?"
  timeout "$GATE_S" "$bin" --conv gemm gate --out "$out/r/gate/gemm" ||
    echo "gate $tag gemm: exit $?"
  CUBECL_DEBUG_OPTION=profile CUBECL_DEBUG_LOG=/tmp/profile-$tag.log \
    timeout "$PROFILE_S" "$bin" --conv native bench --backends wgpu --shapes ganomaly64 \
    --modes generator --batches 64 --warmup 2 --runs 1 --steps-per-run 3 --out /tmp/ignored \
    >/dev/null 2>&1 || echo "profile $tag: exit $?"
  python3 bench/profile_summary.py "/tmp/profile-$tag.log" --top 20 \
    --json "$out/r/profile/$tag.json" > "$out/r/profile/$tag.txt" 2>&1
  head -8 "$out/r/profile/$tag.txt" | cut -c1-150
done

if [ $pytorch = 1 ]; then
  for tf32 in on off; do
    PYTHONUNBUFFERED=1 timeout 120 python3 bench/ganomaly_reference.py --tf32 $tf32 \
      --shapes ganomaly64,mnist32 --out "$out/r/bench" || echo "pytorch tf32 $tf32: exit $?"
  done
fi
echo "=== done $(date +%T)"
tar czf "$out/results.tar.gz" -C "$out" r
