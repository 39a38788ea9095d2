# Sourced by build_host.sh and run_host.sh: the environment a host runs in here (offline, CPU).
# host_env TARGET_DIR: exports the variables; prints them.
host_env() {
    local target=$1
    export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 DIFFUSERS_OFFLINE=1
    export HF_HUB_DISABLE_TELEMETRY=1 GRADIO_ANALYTICS_ENABLED=False DO_NOT_TRACK=1
    export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
    export CUDA_VISIBLE_DEVICES=""
    # the launcher's own pip calls (and an extension's install.py through launch.run_pip) keep the
    # CPU torch: without this a requirement on torch could pull a CUDA build
    export PIP_CONSTRAINT="$target/.host-constraints.txt"
    # only used if torch were missing: the launcher's TORCH_COMMAND, CPU build
    export TORCH_COMMAND="pip install torch==$(sed -n "s/^torch==//p" "$target/.host-constraints.txt") torchvision==$(sed -n "s/^torchvision==//p" "$target/.host-constraints.txt")"
    # the host's requirements_versions.txt with the pins changed for torch 2.13+ (build_host.sh)
    export REQS_FILE="$target/requirements_versions.cpu.txt"
    # webui.sh runs launch.py with python -u
    export PYTHONUNBUFFERED=1
    echo "  env: HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False CUDA_VISIBLE_DEVICES='' PIP_CONSTRAINT=$PIP_CONSTRAINT REQS_FILE=$REQS_FILE"
}
