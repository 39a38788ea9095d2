#!/usr/bin/env bash
# The extension in a real host (built by build_host.sh), offline on CPU: install, REST job in a
# worker process, the three access rules, the host's packages untouched.
#
#   tests/hosts/check_host.sh HOST TARGET_DIR
#
#   1. run_host.sh (venv back to the built freeze, the extension copied from EXT_REF, its
#      install.py run by the launcher, pip freeze before/after) with --api --api-auth wan:secret;
#      prints the install.py lines, how long the launcher's prepare step took, the freeze diff
#      (must be empty), the runtime's size and `python -m wan runtime status`;
#   2. check_rest.py job: a tiny job over REST -> succeeded, MP4 of 36 frames, rendered in a worker
#      process (not the WebUI's), no diffusers/cv2 imported into the WebUI for it;
#      with RELOAD=1 also check_rest.py reload (Reload UI while a longer job runs);
#   3. restarted with --gradio-auth bob:pw --listen: /wan/v1 asks for bob:pw (check_rest.py auth);
#      restarted with --listen and no auth: POST /wan/v1/jobs 403 naming --api-auth, /plan 200
#      (check_rest.py refuse). The host binds 127.0.0.1 (run_host.sh adds --server-name);
#   6. the host venv's pip freeze is still the built one (.host-freeze-built.txt);
#   and every line of the host logs that mentions Wan Video / wan with an error -> wan-errors.txt.
#
# Environment: EXTENSION_DIR (default: this repository), EXT_REF (default HEAD), PORT (default
# 7860), LOG_ROOT (default TARGET_DIR/logs/check-<time>), RELOAD=1 (also the Reload UI check),
# WORKAROUND_FRONT=1 (HOST_PROBE_SYS_PATH=<runtime>/front: the probe extension puts the
# extension's numexpr folder on sys.path before the UI is built, where the extension's own
# sys.path.append is undone by the host's load_scripts; see NOTES.md). Exit status: the number of
# failed steps.
set -uo pipefail

usage() { echo "usage: $0 a1111|forge TARGET_DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
HOST=$1
TARGET_DIR=$(cd "$2" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export EXTENSION_DIR=${EXTENSION_DIR:-$(cd "$HERE/../.." && pwd)}
export EXT_REF=${EXT_REF:-HEAD}
export PORT=${PORT:-7860}
LOG_ROOT=${LOG_ROOT:-$TARGET_DIR/logs/check-$(date +%Y%m%d-%H%M%S)}
URL="http://127.0.0.1:$PORT"
EXT="$TARGET_DIR/extensions/wan-video"
PY=python3
mkdir -p "$LOG_ROOT"
FAILED=0
SUMMARY="$LOG_ROOT/summary.txt"
: >"$SUMMARY"

note() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }
fail() { note "FAIL: $*"; FAILED=$((FAILED + 1)); }
if [[ ${WORKAROUND_FRONT:-0} == 1 ]]; then
    export HOST_PROBE_SYS_PATH="$EXT/runtime/front"
    note "WORKAROUND_FRONT=1: HOST_PROBE_SYS_PATH=$HOST_PROBE_SYS_PATH"
fi

start_host() { # NAME KEEP_RUNTIME FLAGS...
    local name=$1 keep=$2
    shift 2
    note ""
    note "== $HOST $name: $*"
    local started=$(date +%s)
    LOG_DIR="$LOG_ROOT/$name" KEEP_RUNTIME=$keep BACKGROUND=1 PROBE=1 \
        bash "$HERE/run_host.sh" "$HOST" "$TARGET_DIR" "$@" >"$LOG_ROOT/$name.out" 2>&1
    local rc=$?
    note "run_host.sh: exit $rc after $(($(date +%s) - started)) s (log $LOG_ROOT/$name.out)"
    note "  $(grep -E 'exit code .* after' "$LOG_ROOT/$name.out" | sed 's/^ *//') (launch.py --exit: the launcher's prepare step with install.py)"
    note "install.py said:"
    grep -E '^Wan Video' "$LOG_ROOT/$name/install.log" | sed 's/^/  | /' | tee -a "$SUMMARY"
    if [[ -s "$LOG_ROOT/$name/freeze.diff" ]]; then
        fail "pip freeze changed by install.py:"
        sed 's/^/  /' "$LOG_ROOT/$name/freeze.diff" | tee -a "$SUMMARY"
    else
        note "pip freeze before/after install.py: identical ($(wc -l <"$LOG_ROOT/$name/freeze-after.txt") packages)"
    fi
    [[ $rc -eq 0 ]] || { fail "$name: the host did not start"; return 1; }
    HOST_PID=$(cat "$LOG_ROOT/$name/host.pid")
    note "WebUI pid $HOST_PID, serving $URL"
}

stop_host() { # NAME
    local name=$1 pids
    [[ -f "$LOG_ROOT/$name/host.pid" ]] || return 0
    local pgid
    pgid=$(cat "$LOG_ROOT/$name/host.pid")
    pids=$(pgrep -g "$pgid" | tr '\n' ' ')
    kill -TERM -- "-$pgid" 2>/dev/null
    for _ in $(seq 1 60); do
        pgrep -g "$pgid" >/dev/null || break
        sleep 1
    done
    if pgrep -g "$pgid" >/dev/null; then
        note "$name: processes still there 60 s after SIGTERM: $(pgrep -g "$pgid" | tr '\n' ' '); SIGKILL"
        kill -KILL -- "-$pgid" 2>/dev/null
        sleep 2
    fi
    # a worker the extension started in another session/process group would survive the host
    local left
    left=$(pgrep -f "$EXT/runtime/bin/python -m wan worker" | tr '\n' ' ')
    [[ -z $left ]] || fail "$name: worker processes outlived the host: $left"
    note "$name: stopped (process group $pgid: $pids)"
}

runtime_report() {
    note "runtime: $(du -sh "$EXT/runtime" 2>/dev/null | cut -f1) at $EXT/runtime (front: $(du -sh "$EXT/runtime/front" 2>/dev/null | cut -f1))"
    if [[ -f "$EXT/runtime/prepare.log" ]]; then
        note "prepare.log steps:"
        grep -E '^== ' "$EXT/runtime/prepare.log" | sed 's/^/  /' | tee -a "$SUMMARY"
        note "  ready at: $($PY -c "import json,time,sys; d=json.load(open(sys.argv[1])); print(time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(d['updated'])), d['state'], d.get('torch_from'))" "$EXT/runtime/wan-runtime.json")"
    fi
    note "python -m wan runtime status, from the WebUI folder (as the brief writes it):"
    (cd "$TARGET_DIR" && "$EXT/runtime/bin/python" -m wan runtime status --dir "extensions/wan-video/runtime" 2>&1 | sed 's/^/  | /' | tee -a "$SUMMARY")
    note "python -m wan runtime status, from the extension's folder:"
    (cd "$EXT" && runtime/bin/python -m wan runtime status --dir runtime 2>&1 | sed 's/^/  | /' | tee -a "$SUMMARY")
}

rest() { # MODE ARGS...
    local mode=$1
    shift
    $PY "$HERE/check_rest.py" "$URL" "$mode" --ext-dir "$EXT" --out "$LOG_ROOT/rest" "$@" 2>&1 | tee -a "$LOG_ROOT/rest-$mode.log" | tee -a "$SUMMARY"
    [[ ${PIPESTATUS[0]} -eq 0 ]] || fail "check_rest.py $mode"
}

# 1-2: --api --api-auth, the tiny job (and the reload)
if start_host api-auth 0 --api --api-auth wan:secret; then
    runtime_report
    rest job --auth wan:secret --host-pid "$HOST_PID"
    [[ ${RELOAD:-0} != 1 ]] || rest reload --auth wan:secret --host-pid "$HOST_PID"
fi
stop_host api-auth

# 3: --gradio-auth with --listen; then --listen with no auth
if start_host gradio-auth-listen 1 --gradio-auth bob:pw --listen; then
    rest auth --auth bob:pw
fi
stop_host gradio-auth-listen
if start_host listen-no-auth 1 --listen; then
    rest refuse
fi
stop_host listen-no-auth

# 6: the host's packages as built
note ""
"$TARGET_DIR/venv/bin/python" -m pip freeze --all >"$LOG_ROOT/freeze-final.txt"
plan=$("$TARGET_DIR/venv/bin/python" "$HERE/freeze_plan.py" "$TARGET_DIR/.host-freeze-built.txt" "$LOG_ROOT/freeze-final.txt")
if [[ -z $plan ]]; then
    note "pip freeze after everything: identical to the built state ($TARGET_DIR/.host-freeze-built.txt)"
else
    fail "pip freeze after everything differs from the built state:"
    sed 's/^/  /' <<<"$plan" | tee -a "$SUMMARY"
fi

# error lines about the extension in the host logs
grep -nHiE 'wan' "$LOG_ROOT"/*/host.log "$LOG_ROOT"/*/install.log 2>/dev/null |
    grep -iE 'error|exception|traceback|fail|cannot|could not|warning' >"$LOG_ROOT/wan-errors.txt"
# and the exception lines that end the tracebacks (they rarely name wan themselves)
grep -nHE '^[A-Za-z_.]+(Error|Exception)\b' "$LOG_ROOT"/*/host.log >>"$LOG_ROOT/wan-errors.txt" 2>/dev/null
note "host log lines mentioning wan with an error: $(wc -l <"$LOG_ROOT/wan-errors.txt") ($LOG_ROOT/wan-errors.txt)"
sed 's/^/  /' "$LOG_ROOT/wan-errors.txt" | head -40 | tee -a "$SUMMARY"
note ""
note "$HOST: $FAILED failed step(s); summary $SUMMARY"
exit "$FAILED"
