#!/usr/bin/env bash
# Sets up a virtual environment (once) and runs the whole test suite: ruff, then pytest.
# CI runs exactly this (.ci/run). Extra arguments go to pytest, e.g. `bash tests/run.sh -k plan`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${WAN_VENV:-.venv}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || { echo "Python 3.10 or newer is needed (found $("$PYTHON" --version))" >&2; exit 1; }
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
# torch first, pinned: this machine has a local CPU build of 2.13.0, and an unpinned torch would
# pull several GB of CUDA packages. Set WAN_TORCH to install another torch (e.g. "torch").
"${PIP[@]}" "${WAN_TORCH:-torch==2.13.0}"
# The generation packages at the versions the extension's runtime pins (wan/runtime/pins.py), so
# the tests run what WebUI users get.
PINS="$(mktemp)"
trap 'rm -f "$PINS"' EXIT
"$PYTHON" -c 'from wan.runtime.pins import requirement_lines; print("\n".join(requirement_lines()))' > "$PINS"
"${PIP[@]}" -e ".[dev,models,quant,serve,ui,cluster]" -c "$PINS"
# The upscaling packages as the runtime installs them (wan/runtime/pins.py WITHOUT_DEPENDENCIES):
# spandrel without its dependencies, so pip never fetches a torchvision that does not match torch.
read -r -a ALONE <<< "$("$PYTHON" -c 'from wan.runtime.pins import WITHOUT_DEPENDENCIES as alone, requirement_lines as lines
print(" ".join(line for line in lines() if line.split("==")[0] in alone))')"
"${PIP[@]}" -c "$PINS" einops
"${PIP[@]}" --no-deps "${ALONE[@]}"

"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/python" -m pytest "$@"
# The GPU check (benchmarks/gpu_check.sh) once at tiny sizes on the CPU, so that it cannot rot: every
# check runs and the runner's budget, limits and record are exercised (nothing is appended here).
"$VENV/bin/python" -m wan bench --gpu-check --dry-run --results -

# The REST API once more on A1111's stack (fastapi 0.94 + pydantic 1): a small venv that holds
# only those and reads everything else from the main one (a .pth file appends its site-packages).
P1="${WAN_VENV_PYDANTIC1:-.venv-pydantic1}"
if [ ! -x "$P1/bin/python" ]; then
    "$VENV/bin/python" -m venv "$P1"
fi
"$P1/bin/python" -m pip install --quiet --disable-pip-version-check "fastapi==0.94.0" "pydantic<2"
main_site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
overlay_site=$("$P1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$main_site" > "$overlay_site/zz-wan-main-venv.pth"
"$P1/bin/python" -c 'import fastapi, pydantic; assert pydantic.VERSION < "2", pydantic.VERSION; print(f"API tests on fastapi {fastapi.__version__}, pydantic {pydantic.VERSION}")'
# (the tab itself is built under gradio 3.41 / 4.40 / current below, not against this fastapi)
"$P1/bin/python" -m pytest -q -p no:cacheprovider tests/test_api_http.py tests/test_service.py tests/test_webui_glue.py \
    -k "not tab_are_registered"

# The UI must build under the gradio of each host, with the host's fastapi and pydantic:
# A1111 1.6-1.10 (gradio 3.41.2, fastapi 0.94, pydantic 1) and Forge (gradio 4.40, fastapi 0.104,
# pydantic 2.8); the current release is in the main venv. Each gets a small venv of its own
# (gradio and what the tab imports; no torch); huggingface_hub < 0.26 as those releases had.
for host in "3.41.2 0.94.0 pydantic<2" "4.40.0 0.104.1 pydantic==2.8.2"; do
    read -r gradio_version fastapi_version pydantic_spec <<< "$host"
    GV=".venv-gradio-$gradio_version"
    if [ ! -x "$GV/bin/python" ]; then
        "$PYTHON" -m venv "$GV"
    fi
    "$GV/bin/python" -m pip install --quiet --disable-pip-version-check "gradio==$gradio_version" \
        "fastapi==$fastapi_version" "$pydantic_spec" "huggingface_hub<0.26" "numexpr>=2.8.5" pytest hypothesis
    "$GV/bin/python" -m pytest -q -p no:cacheprovider tests/test_ui_build.py
done

# The extension in stand-ins of the two hosts as their users install them (tests/hosts/standin-*.txt:
# A1111 v1.10.1's and Forge's server and model-loading packages next to torch 2.13.0): install.py
# leaves the host's pip freeze identical and prepares the runtime, a tiny job submitted through the
# WebUI glue renders in a worker process to an MP4, a worker killed mid-job leaves it resumable
# (tests/hosts/standin_check.py). Set WAN_SKIP_HOSTS=1 to leave this out while developing.
if [ "${WAN_SKIP_HOSTS:-0}" != "1" ]; then
    for host in a1111 forge; do
        HV=".venv-host-$host"
        if [ ! -x "$HV/bin/python" ]; then
            "$PYTHON" -m venv "$HV"
        fi
        "$HV/bin/python" -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
        echo "torch==2.13.0" > "$HV/torch-constraint.txt"
        "$HV/bin/python" -m pip install --quiet --disable-pip-version-check \
            -r "tests/hosts/standin-$host.txt" -c "$HV/torch-constraint.txt"
        WORK="$(mktemp -d)"
        "$HV/bin/python" tests/hosts/standin_check.py --host "$host" --work "$WORK"
        rm -rf "$WORK"
    done
fi
