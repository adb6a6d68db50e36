#!/usr/bin/env bash
# Builds what one GPU-machine call (the `device` tool) needs for issue D's measurements, here,
# into the git-ignored .device/ (carried with the call): one release xtask per wgpu build
# configuration, stripped and gzipped, plus the commit they were built from. The call itself
# runs bench/device/run.sh; see bench/README.md.
#
#   bench/device/prepare.sh [VARIANT ...]     VARIANT: a comma list of lran's GPU features, or
#                                             "plain"; default: plain autotune (fusion trains wrongly:
#                                             docs/gpu-fusion-autotune.md)
#
# A warm target directory outside the clone keeps rebuilds incremental (the first build of each
# configuration takes ~20 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${LRAN_DEVICE_TARGET_DIR:-$HOME/.cache/lran/target-device}"
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(plain autotune)

mkdir -p .device
rm -f .device/xtask-*.gz
git describe --always --dirty --abbrev=12 > .device/COMMIT
for variant in "${variants[@]}"; do
  if [ "$variant" = plain ]; then features=(); tag=wgsl; else
    features=(--features "$variant")
    tag=$( (case ",$variant," in *,vulkan,*) echo -n spirv;; *) echo -n wgsl;; esac
            case ",$variant," in *,autotune,*) echo -n -autotune;; esac
            case ",$variant," in *,fusion,*) echo -n -fusion;; esac) )
  fi
  echo "building xtask ($tag)" >&2
  cargo build --release --quiet -p xtask "${features[@]}"
  # One binary path for every feature set: copy before the next build replaces it.
  strip -o ".device/xtask-$tag" "$CARGO_TARGET_DIR/release/xtask"
  gzip -9f ".device/xtask-$tag"
done
du -ch .device/* | tail -1
# The call carries at most 64 MiB (tree + carried paths).
total=$(du -cb .device/* | tail -1 | cut -f1)
if [ "$total" -gt $((56 * 1024 * 1024)) ]; then
  echo "warning: .device holds $((total / 1024 / 1024)) MiB; a call carries 64 MiB in all" >&2
fi
