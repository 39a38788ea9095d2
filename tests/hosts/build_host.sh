#!/usr/bin/env bash
# Build a real WebUI host (A1111 or Forge) for manual checks of the extension, offline and on CPU.
#
#   tests/hosts/build_host.sh HOST SOURCE_DIR TARGET_DIR
#
#   HOST        a1111 | forge
#   SOURCE_DIR  a checkout of the host's source (see tests/hosts/README.md for the exact refs):
#               a1111: AUTOMATIC1111/stable-diffusion-webui at tag v1.10.1 (commit 82a973c0)
#               forge: lllyasviel/stable-diffusion-webui-forge at commit dfdcbab6 (version f2.0.1v1.10.1)
#   TARGET_DIR  the WebUI folder to make (the source is copied there unless it is SOURCE_DIR itself)
#
# What it does, step by step, as the host's own launcher (webui.sh + modules/launch_utils.py
# prepare_environment) would, with these deviations from a stock install:
#   * torch==2.14.1 + torchvision==0.29.1 from this machine's local wheel store, instead of the
#     launcher's TORCH_COMMAND (A1111 v1.10.1: torch==2.1.2 torchvision==0.16.2 from the cu121
#     index; Forge: torch==2.3.1 torchvision==0.18.1 from cu121). They run on the CPU here.
#     Why not the torch==2.13.0 CPU build the project uses elsewhere: both hosts import torchvision
#     at start, and the only torchvision for 2.13.0 reachable here (PyPI's 0.28.0) is a CUDA build
#     that fails beside the CPU torch ("RuntimeError: operator torchvision::nms does not exist");
#     torch 2.14.1 + torchvision 0.29.1 (CUDA builds, ~5.5 GB per venv, no GPU needed) import and
#     run on the CPU. Another pair: TORCH_VERSION=... TORCHVISION_VERSION=... Every pip call here
#     holds torch at that version (a constraints file, also exported as PIP_CONSTRAINT to the
#     launcher's own pip calls).
#   * Python 3.11 (the default `python3` here) where the hosts' webui.sh prefers python3.10;
#     both launchers accept 3.11 on Linux (check_python_version: supported_minors 7..11).
#   * the git repositories the launcher clones into repositories/ (and the CLIP package it pip
#     installs from a GitHub zip) come from local git mirrors when $HOST_MIRRORS/<owner>+<name>/repo
#     exists (default HOST_MIRRORS=/work/.mirror), else from GitHub; each is checked out at the
#     launcher's own commit, with origin set to the launcher's URL, so that the launcher's
#     git_clone() finds them in place and does nothing (no network).
#   * the repositories and commits are read from the host's modules/launch_utils.py, not copied here.
# Finally it runs the host's own `launch.py --exit` once (prepare_environment: checks, repositories,
# requirements, and the built-in extensions' install.py files, which on Forge pip-install
# fvcore/mediapipe/onnxruntime/opencv-python/svglib from PyPI and fail, offline, for three wheels
# hosted on GitHub; that failure is only a warning in Forge's console).
#
# Re-runnable: an existing venv, repository or installed package is kept; each step says what it does.
# Environment: PYTHON (default python3), HOST_MIRRORS (default /work/.mirror), TORCH_VERSION (2.14.1),
# TORCHVISION_VERSION (0.29.1), SKIP_PIP_UPGRADE=1 (do not upgrade pip in the new venv).
set -euo pipefail

usage() { echo "usage: $0 a1111|forge SOURCE_DIR TARGET_DIR" >&2; exit 2; }
[[ $# -eq 3 ]] || usage
HOST=$1
SOURCE_DIR=$(cd "$2" && pwd)
mkdir -p "$3"
TARGET_DIR=$(cd "$3" && pwd)
case "$HOST" in a1111 | forge) ;; *) usage ;; esac

PYTHON=${PYTHON:-python3}
HOST_MIRRORS=${HOST_MIRRORS:-/work/.mirror}
TORCH_VERSION=${TORCH_VERSION:-2.14.1}
TORCHVISION_VERSION=${TORCHVISION_VERSION:-0.29.1}
VENV="$TARGET_DIR/venv"
VPY="$VENV/bin/python"

step() { printf '\n==> %s\n' "$*"; }
run() { printf '  $ %s\n' "$*"; "$@"; }

[[ -f "$SOURCE_DIR/launch.py" && -f "$SOURCE_DIR/modules/launch_utils.py" ]] ||
    { echo "$SOURCE_DIR is not a WebUI checkout (no launch.py / modules/launch_utils.py)" >&2; exit 1; }
if [[ $HOST == forge && ! -d "$SOURCE_DIR/modules_forge" ]]; then
    echo "$SOURCE_DIR has no modules_forge/: not Forge" >&2; exit 1
fi
if [[ $HOST == a1111 && -d "$SOURCE_DIR/modules_forge" ]]; then
    echo "$SOURCE_DIR has modules_forge/: that is Forge, not A1111" >&2; exit 1
fi

step "1. source: $SOURCE_DIR -> $TARGET_DIR"
if [[ "$SOURCE_DIR" == "$TARGET_DIR" ]]; then
    echo "  building in place"
else
    # copy the tracked tree; state the host creates (venv, repositories, extensions, models,
    # outputs, config) is left alone in TARGET_DIR
    (cd "$SOURCE_DIR" && tar -cf - --exclude=./venv --exclude=./repositories --exclude=./extensions \
        --exclude=./models --exclude=./outputs --exclude=./config.json --exclude=./ui-config.json \
        --exclude=./cache.json --exclude=./tmp .) | (cd "$TARGET_DIR" && tar -xf -)
    mkdir -p "$TARGET_DIR/extensions"
    echo "  copied (venv/, repositories/, extensions/, models/, outputs/, config files kept as they are)"
fi
if [[ -d "$SOURCE_DIR/.git" ]]; then
    echo "  source commit: $(git -C "$SOURCE_DIR" rev-parse HEAD 2>/dev/null || echo '?')"
fi

step "2. venv: $VENV (as webui.sh: \"\$python_cmd\" -m venv venv; then pip install --upgrade pip)"
if [[ -x "$VPY" ]]; then
    echo "  exists: $("$VPY" --version)"
else
    run "$PYTHON" -m venv "$VENV"
    if [[ ${SKIP_PIP_UPGRADE:-0} != 1 ]]; then
        run "$VPY" -m pip install --upgrade pip
    fi
fi
"$VPY" -c 'import sys; print("  python:", sys.version.split()[0], sys.executable)'

CONSTRAINTS="$TARGET_DIR/.host-constraints.txt"
printf 'torch==%s\ntorchvision==%s\n' "$TORCH_VERSION" "$TORCHVISION_VERSION" >"$CONSTRAINTS"
echo "  constraints for every pip call: $CONSTRAINTS ($(tr '\n' ' ' <"$CONSTRAINTS"))"

step "3. torch (instead of the launcher's TORCH_COMMAND): torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION"
grep -n "torch_command = os.environ.get('TORCH_COMMAND'" "$TARGET_DIR/modules/launch_utils.py" | head -1 | sed 's/^/  launcher default: /'
run "$VPY" -m pip install "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" -c "$CONSTRAINTS"

step "4. the host's requirements_versions.txt (as prepare_environment: pip install -r requirements_versions.txt)"
# Pins that cannot stay next to torch 2.13+ on Python 3.11 are changed in a copy,
# requirements_versions.cpu.txt, which the launcher uses through its REQS_FILE variable (exported
# by host_env.sh): with the original file its requirements_met() would be False on every start
# and it would run pip install -r again, which fails (or would fetch another torch).
REQS="$TARGET_DIR/requirements_versions.cpu.txt"
# setuptools==69.5.1 -> 77.0.3: torch 2.13 / 2.14 declare Requires-Dist setuptools>=77.0.3; 77.0.3 is
# the lowest it accepts and still has pkg_resources (Forge's built-in install.py files import it).
sed -E 's/^setuptools==69\.5\.1(.*)$/setuptools==77.0.3  # host pins 69.5.1; torch 2.13+ requires setuptools>=77.0.3/' \
    "$TARGET_DIR/requirements_versions.txt" >"$REQS"
diff "$TARGET_DIR/requirements_versions.txt" "$REQS" | sed 's/^/  /' || true
run "$VPY" -m pip install -r "$REQS" -c "$CONSTRAINTS" --prefer-binary

step "5. repositories/ and the CLIP package, as in the host's prepare_environment"
# Parse the launcher: active git_clone(...) calls, their URL and commit variables, and CLIP_PACKAGE.
PLAN=$("$VPY" - "$TARGET_DIR/modules/launch_utils.py" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf8").read()
values = dict(re.findall(r"^\s*(\w+) = os\.environ\.get\('\w+', [\"']([^\"']+)[\"']\)", text, re.M))
for var, name, commit in re.findall(r"^\s*git_clone\((\w+), repo_dir\('([^']+)'\), \"[^\"]+\", (\w+)\)", text, re.M):
    print("repo", name, values[var], values[commit])
print("clip", "-", values["clip_package"], "-")
EOF
)
mirror_of() { # https://github.com/owner/name(.git|/archive/...) -> $HOST_MIRRORS/owner+name/repo
    local path=${1#https://github.com/}
    local owner=${path%%/*} rest=${path#*/}
    local name=${rest%%/*}
    name=${name%.git}
    echo "$HOST_MIRRORS/$owner+$name/repo"
}
mkdir -p "$TARGET_DIR/repositories"
while read -r kind name url commit; do
    if [[ $kind == repo ]]; then
        dir="$TARGET_DIR/repositories/$name"
        if [[ -d "$dir/.git" ]] && [[ $(git -C "$dir" rev-parse HEAD 2>/dev/null) == "$commit" ]]; then
            echo "  $name: already at $commit"
            continue
        fi
        rm -rf "$dir"
        mirror=$(mirror_of "$url")
        if [[ -d "$mirror" ]]; then
            run git clone -q --no-checkout "$mirror" "$dir"
        else
            run git clone -q --no-checkout "$url" "$dir"
        fi
        # a local mirror may lack some large blobs (sample images): checkout then reports
        # "unable to read sha1 file" for them, HEAD still moves; they are listed below
        run git -C "$dir" -c advice.detachedHead=false checkout -q "$commit" 2>/dev/null || true
        run git -C "$dir" remote set-url origin "$url"
        head=$(git -C "$dir" rev-parse HEAD)
        [[ $head == "$commit" ]] || { echo "  $name: HEAD is $head, not $commit" >&2; exit 1; }
        missing=$(git -C "$dir" status --porcelain | sed -n 's/^ D //p' | tr '\n' ' ')
        echo "  $name: $url @ $commit${missing:+ (absent from the mirror, not used by the WebUI: $missing)}"
    else
        if "$VPY" -c "import importlib.metadata as m; m.distribution('clip')" 2>/dev/null; then
            echo "  clip: installed"
            continue
        fi
        commit=${url##*/}
        commit=${commit%.zip}
        mirror=$(mirror_of "$url")
        if [[ -d "$mirror" ]]; then
            tmp=$(mktemp -d)
            git --git-dir="$mirror" archive --prefix=CLIP/ "$commit" | tar -x -C "$tmp"
            # --no-build-isolation: CLIP's setup.py needs pkg_resources, from the host's setuptools pin
            run "$VPY" -m pip install --no-build-isolation "$tmp/CLIP" -c "$CONSTRAINTS" --prefer-binary
            rm -rf "$tmp"
        else
            run "$VPY" -m pip install "$url" -c "$CONSTRAINTS" --prefer-binary
        fi
    fi
done <<<"$PLAN"

step "6. check: the launcher's own requirements_met() (False would make it pip install -r again)"
(cd "$TARGET_DIR" && "$VPY" -c "
from modules import launch_utils
ok = launch_utils.requirements_met('requirements_versions.cpu.txt')
print('  requirements_met(requirements_versions.cpu.txt):', ok)
raise SystemExit(0 if ok else 1)
" --skip-torch-cuda-test)

step "7. the host's launch.py --exit until pip freeze settles (prepare_environment; built-in extensions' install.py)"
# On Forge the first run's built-in installers move packages (mediapipe pulls an opencv that wants
# numpy 2) and the next run's requirements_met() puts the host's pins back: run until nothing moves,
# so that a later freeze diff shows only what an added extension changed.
# shellcheck source=tests/hosts/host_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/host_env.sh"
host_env "$TARGET_DIR"
FREEZE="$TARGET_DIR/.host-freeze-built.txt"
"$VPY" -m pip freeze --all >"$FREEZE.prev"
for pass in 1 2 3 4; do
    (cd "$TARGET_DIR" && run "$VPY" -u launch.py --exit --skip-torch-cuda-test) || {
        echo "launch.py --exit failed" >&2; exit 1; }
    "$VPY" -m pip freeze --all >"$FREEZE"
    if diff "$FREEZE.prev" "$FREEZE" >/dev/null; then
        echo "  pip freeze unchanged by pass $pass: settled"
        break
    fi
    echo "  pass $pass changed pip freeze:"
    diff "$FREEZE.prev" "$FREEZE" | grep '^[<>]' | sed 's/^/    /' || true
    cp "$FREEZE" "$FREEZE.prev"
    [[ $pass -lt 4 ]] || { echo "pip freeze did not settle after 4 passes" >&2; exit 1; }
done
rm -f "$FREEZE.prev"

step "8. pip freeze of the host venv: $FREEZE"
grep -iE '^(torch|torchvision|gradio|fastapi|pydantic|transformers|diffusers|huggingface.hub|accelerate|numpy|setuptools)==' \
    "$FREEZE" | sed 's/^/  /'
printf '%s\n' "host=$HOST" "source=$SOURCE_DIR" "python=$("$VPY" --version 2>&1)" \
    "torch=$TORCH_VERSION" "built=$(date -u +%FT%TZ)" >"$TARGET_DIR/.host-build-info"
echo
echo "done: $HOST in $TARGET_DIR; start it with tests/hosts/run_host.sh $HOST $TARGET_DIR"
