#!/usr/bin/env bash
# The GPU check: under ten minutes on one H100/H200 with random weights at the real sizes (nothing
# is downloaded); appends a dated record of the machine and its figures to benchmarks/RESULTS.md.
# What it runs (python -m wan bench --gpu-check --list-checks), in this order, each stopped at its
# limit and skipped with a note when the budget (--budget, default 540 s) runs short:
#   environment, matmul peak; T2V-1.3B and VACE-1.3B at 832x480x81: stock diffusers vs quality
#   (guidance batched and not) vs fast, 3 steps timed and extrapolated to 50, with MFU; peak VRAM
#   of each memory preset; T2V-14B's step under the aggressive preset; fp8 (torchao compute,
#   layerwise storage); bf16, fp8 storage, int8_torchao, bitsandbytes int8 and nf4 on 4 of the 40 blocks of a Wan 2.2 A14B
#   expert (load, memory, forward, difference; the whole expert extrapolated); a LoRA fused vs as an
#   adapter on T2V-1.3B, the adapter with fp8 storage, fp8 compute, group offloading, and the
#   fixed-step scheduler; `python -m wan bench t2v-1.3b` (every stage, text encoder included); a
#   scheduled LoRA under regional torch.compile; attention kernels; regional torch.compile; a GGUF
#   Q8_0 file of 2 A14B blocks; the VAE decode; upscaling (Real-ESRGAN architectures at 480p x2/x4
#   and to 4K, the Wan refine pass; needs spandrel and torchvision); context parallelism at degree 1
#   (a group of two GPUs where two exist) and the queue over two GPUs (parallel.py). Other work adds modules to
#   wan/bench/checks/.
#   What does not fit the budget: python benchmarks/bench_gpu_weights.py (the whole 14B expert in
#   each format; auto placement under a capped GPU), see benchmarks/GPU_CHECKS.md.
#
# Usage: bash benchmarks/gpu_check.sh [--budget 540] [--checks a,b] [--dry-run] [--results FILE]
#   --dry-run runs every check at tiny sizes on the CPU (tests/run.sh does, so it cannot rot).
#
# Wheels. Besides a CUDA build of torch (the machine's own), the checks import:
#   diffusers, transformers, accelerate, tokenizers, huggingface_hub, safetensors, ftfy, numexpr,
#   Pillow and what they need; torchao (fp8, int8_torchao); bitsandbytes (nf4, int8: 125 MB
#   installed); gguf; peft (LoRAs); optionally opencv-python-headless and imageio-ffmpeg
#   (only the profile check's interpolation and MP4; about 80 MB together).
# A machine without internet gets them carried: where there is internet, run
#   python -m wan bench --gpu-check --carry-command      # prints: pip download --no-deps ... -d wheels/ PKG==VER ...
# (the versions installed there, for the Python and platform it names; change --python-version to
# the GPU machine's), copy wheels/ along, and start this script with WAN_WHEELS=wheels/ : it installs
# them with pip install --no-index --find-links first (into the interpreter in $PYTHON).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

if [ -n "${WAN_WHEELS:-}" ]; then
    "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$WAN_WHEELS" \
        "$WAN_WHEELS"/*.whl
fi
missing=$("$PYTHON" - <<'PY'
import importlib.util
wanted = {"torch": "torch", "diffusers": "diffusers", "transformers": "transformers", "accelerate": "accelerate",
          "numexpr": "numexpr", "ftfy": "ftfy", "torchao": "torchao (fp8 check skipped without it)",
          "bitsandbytes": "bitsandbytes (the weights check's int8 and nf4 rows)", "gguf": "gguf (gguf check)",
          "peft": "peft (LoRA checks)"}
print(", ".join(text for module, text in wanted.items() if importlib.util.find_spec(module) is None))
PY
)
if [ -n "$missing" ]; then
    echo "gpu_check: missing here: $missing (see the header of this script to carry them)" >&2
fi
exec "$PYTHON" -m wan bench --gpu-check "$@"
