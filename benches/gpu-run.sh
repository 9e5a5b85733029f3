#!/usr/bin/env bash
# One short run on a machine with a discrete GPU (e.g. an NVIDIA H200 through Vulkan): build in
# release, run the GPU tests (a missing adapter fails), run the bench command's full grid and
# print its table. Results go to $OUT (or ./gpu-run-out) as bench.json, bench.txt and tests.log.
#
#   bash benches/gpu-run.sh
#
# Where the Vulkan loader is missing, put Debian's libvulkan1 .deb files in .gl/ (see the device
# notes of the workplace) and they are unpacked first.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-run-out}"
mkdir -p "$out"

if [ -d .gl ] && ! ldconfig -p | grep -q libvulkan; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt" || true

export SPECSIM_REQUIRE_GPU=1
cargo build --release --locked 2>&1 | tail -n 2
# GPU tests (and the rest): a missing adapter is a failure here.
cargo test --release --locked 2>&1 | tee "$out/tests.log" | grep -E "^test result|FAILED|panicked" || true
./target/release/specsim verify --generate 20000 --k 8 --vocab 32000 --seed 3 | tee "$out/verify.txt"
./target/release/specsim bench --engine auto --json > "$out/bench.json"
./target/release/specsim bench --engine auto | tee "$out/bench.txt"
