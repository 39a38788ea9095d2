"""Checks of the extension's REST API (/wan/v1) in a running host; standard library only.

    python tests/hosts/check_rest.py URL MODE [options]

MODE
  job      a tiny job over REST with --auth: 401 without credentials, 202, polled to `succeeded`,
           the MP4 downloaded (--out) and its frames counted with the runtime's Python
           (--ext-dir), the workers (GET /wan/v1/system) run in other processes than the WebUI
           (--host-pid), and the WebUI process has not imported diffusers or cv2 for the job
           (GET /host-probe/modules before and after, when the probe extension is installed, and
           /proc/PID/maps: no shared library of the runtime mapped)
  auth     with --auth USER:PASS: /wan/v1/* answers 401 without or with wrong credentials, 200
           with them
  refuse   no credentials anywhere (a WebUI started with --listen and no auth): POST
           /wan/v1/jobs answers 403 with a reason naming --api-auth; POST /wan/v1/plan 200
  reload   a longer tiny job; while it runs, POST /host-probe/reload-ui (what Reload UI does);
           the job must still end `succeeded` and the routes answer on the new app
  interrupt  the WebUI's Interrupt (POST /sdapi/v1/interrupt, what its button does; needs --api,
           and --auth when the host has --api-auth) while a longer tiny job runs: the job must end
           `cancelled`. With --reload-first, a Reload UI with no job running comes first

Prints one line per check, `ok` or `FAIL`; a JSON summary goes to --out/summary-MODE.json.
Exit status 0 when every check held.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tiny_job import TINY_JOB

TINY = dict(TINY_JOB)
LONGER = {**TINY, "max_frames": 120, "steps": 6, "seed": 12}
FINAL = ("succeeded", "failed", "cancelled", "interrupted")


class Checks:
    def __init__(self, base: str, out: Path) -> None:
        self.base = base.rstrip("/")
        self.out = out
        self.results: list[dict] = []
        self.facts: dict = {}

    def check(self, name: str, ok: bool, detail: object = "") -> bool:
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail != "" else ""), flush=True)
        self.results.append({"check": name, "ok": bool(ok), "detail": detail})
        return ok

    def request(
        self, method: str, path: str, body: object = None, auth: str | None = None, timeout: float = 60
    ) -> tuple[int, bytes, dict]:
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), dict(exc.headers)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            return 0, str(exc).encode(), {}

    def json_of(self, body: bytes) -> object:
        try:
            return json.loads(body)
        except ValueError:
            return body[:300].decode("utf-8", "replace")

    def probe_modules(self) -> dict | None:
        code, body, _ = self.request("GET", "/host-probe/modules")
        return json.loads(body) if code == 200 else None

    # -- a job --------------------------------------------------------------------------------------
    def submit(self, settings: dict, auth: str | None) -> str | None:
        code, body, _ = self.request("POST", "/wan/v1/jobs", settings, auth)
        answer = self.json_of(body)
        if not self.check("POST /wan/v1/jobs with credentials -> 202", code == 202, f"{code} {answer}"):
            return None
        return answer["job_ids"][0]

    def follow(self, job_id: str, auth: str | None, timeout: float, during=None) -> dict:
        """Poll the job until it is final; `during(job)` is called on each poll."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        job: dict = {}
        unanswered = 0
        while time.monotonic() < deadline:
            code, body, _ = self.request("GET", f"/wan/v1/jobs/{job_id}", auth=auth, timeout=30)
            if code != 200:
                unanswered += 1  # e.g. while the WebUI reloads its UI
                time.sleep(1)
                continue
            job = json.loads(body)
            progress = job.get("progress") or {}
            step = f"{progress.get('step')}/{progress.get('steps')}"
            line = f"{job.get('state')} clip {progress.get('clip')} step {step}"
            if not seen or seen[-1] != line:
                seen.append(line)
                print(f"     {time.strftime('%H:%M:%S')} {line} {progress.get('message') or ''}", flush=True)
            if during is not None:
                during(job)
            if job.get("state") in FINAL:
                break
            time.sleep(1.5)
        job["_seen"] = seen
        job["_unanswered_polls"] = unanswered
        return job

    def workers(self, auth: str | None) -> list[dict]:
        code, body, _ = self.request("GET", "/wan/v1/system", auth=auth)
        if code != 200:
            return []
        return (json.loads(body).get("service") or {}).get("workers") or []


def count_frames(ext_dir: Path, video: Path) -> object:
    python = ext_dir / "runtime" / "bin" / "python"
    code = (
        f"import sys; sys.path.insert(0, {str(ext_dir)!r}); from wan.post.encode import count_frames; "
        f"print(count_frames({str(video)!r}))"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"error: {done.stderr.strip().splitlines()[-1:]}"
    return int(done.stdout.strip().splitlines()[-1])


def runtime_libraries(pid: int, ext_dir: Path) -> list[str]:
    """Shared libraries of the runtime's own packages mapped into the WebUI process."""
    lib = str(ext_dir / "runtime" / "lib")
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError as exc:
        return [f"cannot read: {exc}"]
    return sorted({line.split()[-1] for line in maps.splitlines() if lib in line})


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "(gone)"


def mode_job(c: Checks, args: argparse.Namespace) -> None:
    auth = args.auth
    if auth:
        code, body, _ = c.request("GET", "/wan/v1/jobs")
        c.check("GET /wan/v1/jobs without credentials -> 401", code == 401, f"{code} {c.json_of(body)}")
    before = c.probe_modules()
    started = time.monotonic()
    job_id = c.submit(TINY, auth)
    if job_id is None:
        return
    worker_pids: set[int] = set()
    worker_cmds: dict[int, str] = {}

    lock_seen: set = set()

    def during(job: dict) -> None:
        if job.get("state") == "running":
            probe = c.probe_modules()
            if probe is not None:
                lock_seen.add(probe.get("queue_lock_locked"))
        for worker in c.workers(auth):
            pid = worker.get("pid")
            if pid:
                worker_pids.add(pid)
                worker_cmds.setdefault(pid, cmdline(pid))

    job = c.follow(job_id, auth, args.timeout, during)
    c.facts["job"] = {
        "id": job_id,
        "state": job.get("state"),
        "seconds": round(time.monotonic() - started, 1),
        "progress_seen": job["_seen"],
        "error": job.get("error"),
    }
    if lock_seen:
        c.facts["queue_lock_while_running"] = sorted(map(str, lock_seen))
        c.check(
            "the host's queue_lock was held while the job ran",
            lock_seen == {True},
            sorted(map(str, lock_seen)),
        )
        after_lock = (c.probe_modules() or {}).get("queue_lock_locked")
        c.check("and released after it", after_lock is False, after_lock)
    if not c.check(
        "job succeeded", job.get("state") == "succeeded", f"{job.get('state')} {job.get('error') or ''}"
    ):
        return
    code, body, headers = c.request("GET", f"/wan/v1/jobs/{job_id}/video", auth=auth, timeout=120)
    video = c.out / f"video-{job_id[:8]}.mp4"
    video.write_bytes(body)
    c.check(
        "GET /video -> 200 MP4",
        code == 200 and body[4:8] == b"ftyp",
        f"{code} {headers.get('content-type')} {len(body)} bytes -> {video}",
    )
    frames = count_frames(args.ext_dir, video)
    c.facts["frames"] = frames
    c.check("the video has max_frames (36) frames", frames == TINY["max_frames"], frames)
    c.facts["workers"] = {str(pid): worker_cmds[pid] for pid in worker_pids}
    c.facts["webui_pid"] = args.host_pid
    c.check(
        "the job ran in worker processes, not the WebUI's",
        bool(worker_pids) and args.host_pid not in worker_pids,
        f"webui {args.host_pid}, workers {c.facts['workers']}",
    )
    if args.host_pid:
        mapped = runtime_libraries(args.host_pid, args.ext_dir)
        c.facts["runtime_libraries_in_webui"] = mapped
        c.check("no shared library of the runtime mapped in the WebUI process", not mapped, mapped[:5])
    after = c.probe_modules()
    if before is not None and after is not None:
        c.facts["webui_modules_before"] = before
        c.facts["webui_modules_after"] = after
        grown = {
            name: (before["counts"][name], after["counts"][name])
            for name in ("diffusers", "transformers", "cv2", "torch")
            if after["counts"][name] != before["counts"][name]
        }
        c.check(
            "the job imported no diffusers/transformers/cv2/torch module into the WebUI",
            not grown,
            grown or "",
        )
        # the engine, model loading and video encoding (wan.render's events/result are light by design)
        heavy_modules = (
            "wan.render.engine",
            "wan.render.conditioning",
            "wan.render.output",
            "wan.render.previews",
            "wan.models.loading",
            "wan.models.tiny",
            "wan.post.encode",
            "wan.post.video",
        )
        heavy = [m for m in after["wan"] if m.startswith(heavy_modules)]
        c.check("no render engine / model-loading / encoding module of wan in the WebUI", not heavy, heavy)
        c.facts["webui_imports_diffusers_itself"] = after["imported"].get("diffusers")


def mode_auth(c: Checks, args: argparse.Namespace) -> None:
    user, _, password = args.auth.partition(":")
    for path in ("/wan/v1/jobs", "/wan/v1/version", "/wan/v1/system"):
        code, _, headers = c.request("GET", path)
        c.check(
            f"GET {path} without credentials -> 401",
            code == 401,
            f"{code} {headers.get('www-authenticate', '')}",
        )
        code, _, _ = c.request("GET", path, auth=f"{user}:wrong-{password}")
        c.check(f"GET {path} with a wrong password -> 401", code == 401, code)
        code, _, _ = c.request("GET", path, auth=args.auth)
        c.check(f"GET {path} with {user}:*** -> 200", code == 200, code)
    code, body, _ = c.request("POST", "/wan/v1/plan", TINY)
    c.check("POST /wan/v1/plan without credentials -> 401", code == 401, code)
    code, body, _ = c.request("POST", "/wan/v1/plan", TINY, args.auth)
    c.check("POST /wan/v1/plan with credentials -> 200", code == 200, f"{code} {str(c.json_of(body))[:200]}")
    code, body, _ = c.request("POST", "/wan/v1/jobs", TINY)
    c.check("POST /wan/v1/jobs without credentials -> 401", code == 401, f"{code} {c.json_of(body)}")


def mode_refuse(c: Checks, args: argparse.Namespace) -> None:
    code, body, _ = c.request("POST", "/wan/v1/jobs", TINY)
    answer = c.json_of(body)
    c.facts["refusal"] = answer
    c.check(
        "POST /wan/v1/jobs with no auth configured -> 403 naming --api-auth",
        code == 403 and "--api-auth" in json.dumps(answer),
        f"{code} {answer}",
    )
    code, body, _ = c.request("POST", "/wan/v1/plan", TINY)
    c.check("POST /wan/v1/plan -> 200", code == 200, f"{code} {str(c.json_of(body))[:200]}")
    code, body, _ = c.request("GET", "/wan/v1/jobs")
    c.check("GET /wan/v1/jobs -> 200", code == 200, code)


def mode_reload(c: Checks, args: argparse.Namespace) -> None:
    auth = args.auth
    job_id = c.submit(LONGER, auth)
    if job_id is None:
        return
    state = {"reloaded_at": None, "answer": None}

    def during(job: dict) -> None:
        progress = job.get("progress") or {}
        if (
            state["reloaded_at"] is None
            and job.get("state") == "running"
            and (progress.get("step") or 0) >= 1
        ):
            code, body, _ = c.request("POST", "/host-probe/reload-ui")
            state["reloaded_at"] = time.strftime("%H:%M:%S")
            state["answer"] = f"{code} {c.json_of(body)}"
            print(f"     {state['reloaded_at']} POST /host-probe/reload-ui -> {state['answer']}", flush=True)

    job = c.follow(job_id, auth, args.timeout, during)
    c.facts["reload"] = {
        "job": job_id,
        "reload_requested_at": state["reloaded_at"],
        "reload_answer": state["answer"],
        "state": job.get("state"),
        "error": job.get("error"),
        "progress_seen": job["_seen"],
        "polls_unanswered": job["_unanswered_polls"],
    }
    c.check(
        "Reload UI was requested while the job ran", state["reloaded_at"] is not None, state["answer"] or ""
    )
    c.check(
        "the job still ended succeeded after Reload UI",
        job.get("state") == "succeeded",
        f"{job.get('state')} {job.get('error') or ''}",
    )
    code = wait_for_routes(c, auth)
    c.check("the routes answer on the new app (GET /wan/v1/version)", code == 200, code)
    code, body, _ = c.request("GET", f"/wan/v1/jobs/{job_id}", auth=auth)
    c.check("the job is known to the new app", code == 200, f"{code} {str(c.json_of(body))[:120]}")
    if job.get("state") == "succeeded":
        code, body, _ = c.request("GET", f"/wan/v1/jobs/{job_id}/video", auth=auth, timeout=120)
        video = c.out / f"video-reload-{job_id[:8]}.mp4"
        video.write_bytes(body)
        frames = count_frames(args.ext_dir, video) if code == 200 else None
        c.check("its video has 120 frames", frames == LONGER["max_frames"], frames)


def wait_for_routes(c: Checks, auth: str | None, timeout: float = 300) -> int:
    deadline = time.monotonic() + timeout
    code = 0
    while time.monotonic() < deadline:
        code, _, _ = c.request("GET", "/wan/v1/version", auth=auth)
        if code == 200:
            break
        time.sleep(2)
    return code


def mode_interrupt(c: Checks, args: argparse.Namespace) -> None:
    auth = args.auth
    if args.reload_first:
        code, body, _ = c.request("POST", "/host-probe/reload-ui")
        c.check("Reload UI with no Wan job running", code == 200, f"{code} {c.json_of(body)}")
        time.sleep(3)
        code = wait_for_routes(c, auth)
        c.check("the routes answer on the new app", code == 200, code)
    job_id = c.submit(LONGER, auth)
    if job_id is None:
        return
    state = {"at": None, "answer": None}

    def during(job: dict) -> None:
        progress = job.get("progress") or {}
        if state["at"] is None and job.get("state") == "running" and (progress.get("step") or 0) >= 1:
            code, body, _ = c.request("POST", "/sdapi/v1/interrupt", auth=auth)
            state["at"] = time.strftime("%H:%M:%S")
            state["answer"] = f"{code} {c.json_of(body)}"
            print(f"     {state['at']} POST /sdapi/v1/interrupt -> {state['answer']}", flush=True)

    job = c.follow(job_id, auth, args.timeout, during)
    c.facts["interrupt"] = {
        "job": job_id,
        "reload_first": args.reload_first,
        "interrupted_at": state["at"],
        "answer": state["answer"],
        "state": job.get("state"),
        "progress_seen": job["_seen"],
    }
    c.check(
        "the WebUI's Interrupt was sent while the job ran", state["at"] is not None, state["answer"] or ""
    )
    c.check(
        "the job ended cancelled",
        job.get("state") == "cancelled",
        f"{job.get('state')} {job.get('error') or ''}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url")
    parser.add_argument("mode", choices=("job", "auth", "refuse", "reload", "interrupt"))
    parser.add_argument("--reload-first", action="store_true", help="interrupt: Reload UI before the job")
    parser.add_argument("--auth", help="USER:PASS the API asks for")
    parser.add_argument(
        "--ext-dir", type=Path, help="the extension's folder in the host (extensions/wan-video)"
    )
    parser.add_argument("--host-pid", type=int, help="pid of the WebUI process")
    parser.add_argument("--out", type=Path, default=Path("."), help="where videos and the summary go")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds a job may take")
    args = parser.parse_args()
    if args.mode in ("auth",) and not args.auth:
        parser.error("auth needs --auth")
    if args.mode in ("job", "reload", "interrupt") and not args.ext_dir:
        parser.error(f"{args.mode} needs --ext-dir")
    args.out.mkdir(parents=True, exist_ok=True)
    c = Checks(args.url, args.out)
    modes = {
        "job": mode_job,
        "auth": mode_auth,
        "refuse": mode_refuse,
        "reload": mode_reload,
        "interrupt": mode_interrupt,
    }
    modes[args.mode](c, args)
    summary = {"mode": args.mode, "url": args.url, "checks": c.results, "facts": c.facts}
    (args.out / f"summary-{args.mode}.json").write_text(json.dumps(summary, indent=1, default=str))
    failed = [r["check"] for r in c.results if not r["ok"]]
    print(f"{args.mode}: {len(c.results) - len(failed)} ok, {len(failed)} failed", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    os.environ.setdefault("no_proxy", "127.0.0.1,localhost")
    main()
