#!/usr/bin/env bash
# Start a host built by build_host.sh, with the extension installed the normal way, offline, on CPU.
#
#   tests/hosts/run_host.sh HOST TARGET_DIR [extra WebUI flags...]
#
#   HOST        a1111 | forge
#   TARGET_DIR  the WebUI folder build_host.sh made
#   flags       passed to launch.py after the CPU/offline ones, e.g.
#               --api --api-auth user:pass | --gradio-auth user:pass | --gradio-auth-path FILE |
#               --listen (here always with --server-name 127.0.0.1 unless one is given: this machine
#               serves only on the loopback; cmd_opts.listen is still True) | --nowebui | --skip-install
#
# Steps:
#   1. the offline/CPU environment (host_env.sh)
#   2. unless RESET_VENV=0: the host venv is put back to build_host.sh's pip freeze (packages an
#      earlier run added are uninstalled, moved ones reinstalled, freeze_plan.py); then pip freeze
#      of the host venv BEFORE the extension -> LOG_DIR/freeze-before.txt
#   3. the extension into TARGET_DIR/extensions/wan-video: a copy of EXTENSION_DIR (its tracked and
#      untracked-but-not-ignored files, as a git clone would have them; with EXT_REF=REF the files
#      of that commit, git archive) or, with EXT_MODE=symlink, a link
#   4. launch.py --exit with the same flags: the launcher's prepare_environment, which runs every
#      extension's install.py (unless --skip-install), then exits -> LOG_DIR/install.log
#   5. pip freeze AFTER -> LOG_DIR/freeze-after.txt, and the diff -> LOG_DIR/freeze.diff
#   6. launch.py with the flags (install.py runs once more, as on every start) -> LOG_DIR/host.log;
#      in the foreground, or with BACKGROUND=1 in the background until the server answers
#      (pid of its process group in LOG_DIR/host.pid; stop it with: kill -- -$(cat LOG_DIR/host.pid)).
#
# Environment: EXTENSION_DIR (default: this repository), EXT_REF (a commit of it to copy instead of
# its working tree, e.g. HEAD), EXT_MODE=copy|symlink|none (default copy;
# none leaves extensions/wan-video out), PORT (default 7860), LOG_DIR (default
# TARGET_DIR/logs/run-<time>), RESET_VENV=0 (keep the venv as it is), PROBE=1 (also install
# tests/hosts/probe_extension as extensions/host-probe: it writes LOG_DIR/host-probe.json), BACKGROUND=1, WAIT_S (default 600, with BACKGROUND=1),
# KEEP_RUNTIME=1 (keep extensions/wan-video/runtime, the extension's runtime environment, from the
# previous run: install.py then finds it ready, as on a later start; default: it goes with the
# old copy of the extension, so install.py prepares it as on the first start).
set -euo pipefail

usage() { echo "usage: $0 a1111|forge TARGET_DIR [WebUI flags...]" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
HOST=$1
TARGET_DIR=$(cd "$2" && pwd)
shift 2
case "$HOST" in a1111 | forge) ;; *) usage ;; esac
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EXTENSION_DIR=$(cd "${EXTENSION_DIR:-$HERE/../..}" && pwd)
EXT_MODE=${EXT_MODE:-copy}
PORT=${PORT:-7860}
LOG_DIR=${LOG_DIR:-$TARGET_DIR/logs/run-$(date +%Y%m%d-%H%M%S)}
VPY="$TARGET_DIR/venv/bin/python"
[[ -x "$VPY" ]] || { echo "no venv in $TARGET_DIR: run build_host.sh first" >&2; exit 1; }
mkdir -p "$LOG_DIR"

step() { printf '\n==> %s\n' "$*"; }

# CPU and offline flags of each host; no SD checkpoint is needed
case "$HOST" in
    a1111) HOST_FLAGS=(--skip-torch-cuda-test --no-download-sd-model --use-cpu all --precision full --no-half --skip-version-check) ;;
    forge) HOST_FLAGS=(--skip-torch-cuda-test --always-cpu --skip-version-check) ;;
esac
USER_FLAGS=("$@")
if printf '%s\n' "${USER_FLAGS[@]}" | grep -qx -- --listen && ! printf '%s\n' "${USER_FLAGS[@]}" | grep -qx -- --server-name; then
    USER_FLAGS+=(--server-name 127.0.0.1)
fi
FLAGS=("${HOST_FLAGS[@]}" --port "$PORT" "${USER_FLAGS[@]}")

step "1. environment"
# shellcheck source=tests/hosts/host_env.sh
source "$HERE/host_env.sh"
host_env "$TARGET_DIR"
echo "  logs: $LOG_DIR"

EXT_TARGET="$TARGET_DIR/extensions/wan-video"
step "2. pip freeze before the extension -> $LOG_DIR/freeze-before.txt"
KEPT_RUNTIME=""
if [[ ${KEEP_RUNTIME:-0} == 1 && -d "$EXT_TARGET/runtime" && ! -L "$EXT_TARGET" ]]; then
    KEPT_RUNTIME="$TARGET_DIR/.wan-runtime-kept"
    rm -rf "$KEPT_RUNTIME"
    mv "$EXT_TARGET/runtime" "$KEPT_RUNTIME"
fi
rm -rf "$EXT_TARGET"
BUILT="$TARGET_DIR/.host-freeze-built.txt"
if [[ ${RESET_VENV:-1} == 1 && -f "$BUILT" ]]; then
    # back to what build_host.sh left (an earlier run's install.py may have added or moved
    # packages): uninstall what was added, reinstall (--no-deps) what moved
    "$VPY" -m pip freeze --all >"$LOG_DIR/freeze-found.txt"
    plan=$("$VPY" "$HERE/freeze_plan.py" "$BUILT" "$LOG_DIR/freeze-found.txt")
    if [[ -z $plan ]]; then
        echo "  venv as built ($BUILT)"
    else
        echo "  resetting the venv to $BUILT:"
        sed 's/^/    /' <<<"$plan"
        uninstall=$(sed -n 's/^uninstall //p' <<<"$plan")
        install=$(sed -n 's/^install //p' <<<"$plan")
        # shellcheck disable=SC2086
        [[ -z $uninstall ]] || "$VPY" -m pip uninstall -y -q $uninstall
        # shellcheck disable=SC2086
        [[ -z $install ]] || "$VPY" -m pip install -q --no-deps $install
    fi
fi
"$VPY" -m pip freeze --all >"$LOG_DIR/freeze-before.txt"
echo "  $(wc -l <"$LOG_DIR/freeze-before.txt") packages"

step "3. the extension: $EXTENSION_DIR -> $EXT_TARGET ($EXT_MODE)"
mkdir -p "$TARGET_DIR/extensions"
case "$EXT_MODE" in
    symlink) ln -s "$EXTENSION_DIR" "$EXT_TARGET" ;;
    copy)
        mkdir -p "$EXT_TARGET"
        if [[ -n ${EXT_REF:-} ]]; then
            git -C "$EXTENSION_DIR" archive "$EXT_REF" | tar -xf - -C "$EXT_TARGET"
            echo "  copied $EXT_REF = $(git -C "$EXTENSION_DIR" rev-parse --short "$EXT_REF") (committed files only)"
        elif git -C "$EXTENSION_DIR" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
            (cd "$EXTENSION_DIR" && git ls-files -z -co --exclude-standard | tar -cf - --null -T -) | tar -xf - -C "$EXT_TARGET"
            echo "  copied $(cd "$EXTENSION_DIR" && git ls-files -co --exclude-standard | wc -l) files (commit $(git -C "$EXTENSION_DIR" rev-parse --short HEAD))"
        else
            (cd "$EXTENSION_DIR" && tar -cf - --exclude=.git --exclude=.venv --exclude=__pycache__ .) | tar -xf - -C "$EXT_TARGET"
        fi
        ;;
    none) echo "  (no extension)" ;;
    *) echo "EXT_MODE must be copy, symlink or none" >&2; exit 2 ;;
esac
if [[ -n $KEPT_RUNTIME ]]; then
    if [[ $EXT_MODE == copy ]]; then
        mv "$KEPT_RUNTIME" "$EXT_TARGET/runtime"
        echo "  kept the runtime environment of the previous run (KEEP_RUNTIME=1)"
    else
        rm -rf "$KEPT_RUNTIME"
    fi
fi

PROBE_TARGET="$TARGET_DIR/extensions/host-probe"
rm -rf "$PROBE_TARGET"
if [[ ${PROBE:-0} == 1 ]]; then
    cp -r "$HERE/probe_extension" "$PROBE_TARGET"
    export HOST_PROBE_OUT="$LOG_DIR/host-probe.json"
    echo "  and the probe extension -> $PROBE_TARGET (writes $HOST_PROBE_OUT)"
fi

cd "$TARGET_DIR"
step "4. launch.py --exit ${FLAGS[*]} (prepare_environment, extensions' install.py) -> $LOG_DIR/install.log"
start=$(date +%s)
set +e
"$VPY" -u launch.py --exit "${FLAGS[@]}" 2>&1 | tee "$LOG_DIR/install.log"
rc=${PIPESTATUS[0]}
set -e
echo "  exit code $rc after $(($(date +%s) - start)) s"

step "5. pip freeze after -> $LOG_DIR/freeze-after.txt, diff -> $LOG_DIR/freeze.diff"
"$VPY" -m pip freeze --all >"$LOG_DIR/freeze-after.txt"
if diff "$LOG_DIR/freeze-before.txt" "$LOG_DIR/freeze-after.txt" >"$LOG_DIR/freeze.diff"; then
    echo "  pip freeze unchanged"
else
    echo "  pip freeze CHANGED:"
    sed 's/^/    /' "$LOG_DIR/freeze.diff"
fi
[[ $rc -eq 0 ]] || { echo "launch.py --exit failed ($rc)" >&2; exit "$rc"; }

step "6. launch.py ${FLAGS[*]} -> $LOG_DIR/host.log (http://127.0.0.1:$PORT)"
if [[ ${BACKGROUND:-0} != 1 ]]; then
    "$VPY" -u launch.py "${FLAGS[@]}" 2>&1 | tee "$LOG_DIR/host.log"
    exit "${PIPESTATUS[0]}"
fi
setsid "$VPY" -u launch.py "${FLAGS[@]}" >"$LOG_DIR/host.log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$LOG_DIR/host.pid"
echo "  pid $pid (process group); waiting for the server"
deadline=$(($(date +%s) + ${WAIT_S:-600}))
# "Startup time:" comes after the app_started callbacks (where extensions add their routes;
# Forge prints "Running on local URL" before them)
until grep -q "Startup time:" "$LOG_DIR/host.log"; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "the host exited before it served; see $LOG_DIR/host.log" >&2
        tail -30 "$LOG_DIR/host.log" >&2
        exit 1
    fi
    if (($(date +%s) > deadline)); then
        echo "the host did not serve within ${WAIT_S:-600} s; see $LOG_DIR/host.log" >&2
        exit 1
    fi
    sleep 2
done
echo "  serving: http://127.0.0.1:$PORT  log: $LOG_DIR/host.log  stop: kill -- -$pid"
