"""The service layer without HTTP: the job store's states and recovery, credentials, WanAPI."""

import base64
import sys
import threading
import time

import pytest

from wan.config import SettingsError
from wan.service import IllegalTransition, JobNotFound, JobService, JobStore, WanAPI
from wan.service.auth import CredentialsError, check_basic, parse_credentials


@pytest.fixture
def store(tmp_path):
    return JobStore(tmp_path)


def test_submitted_jobs_are_queued_in_order_as_one_batch(store):
    batch, ids = store.submit([{"max_frames": 17}, {"max_frames": 21}])
    jobs = {job.id: job for job in store.list(batch_id=batch)}
    assert set(jobs) == set(ids)
    assert [jobs[i].position for i in ids] == [0, 1]
    assert {job.state for job in jobs.values()} == {"queued"}
    assert store.claim_next().id == ids[0]
    assert store.claim_next().id == ids[1]
    assert store.claim_next() is None
    assert store.get(ids[0]).worker == "local" and store.get(ids[0]).state == "running"


def test_the_database_uses_wal(store):
    import sqlite3

    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        (["running", "succeeded"], True),
        (["running", "failed", "queued"], True),
        (["cancelled", "queued", "running", "interrupted", "queued"], True),
        (["succeeded"], False),
        (["running", "succeeded", "queued"], False),
        (["running", "succeeded", "cancelled"], False),
        (["paused", "succeeded"], True),  # a pause that came as the render finished
    ],
)
def test_state_machine(store, path, allowed):
    _, (job_id,) = store.submit([{}])
    *steps, last = path
    for state in steps:
        store.move(job_id, state)
    if allowed:
        assert store.move(job_id, last).state == last
    else:
        with pytest.raises(IllegalTransition, match=f"cannot become {last}"):
            store.move(job_id, last)


def test_recovery_marks_running_and_held_jobs_interrupted(store):
    _, (running, paused_mid_render, paused_queued, queued) = store.submit([{}, {}, {}, {}])
    store.move(running, "running", started=time.time())
    store.move(paused_mid_render, "running", started=time.time())
    store.move(paused_mid_render, "paused")
    store.move(paused_queued, "paused")
    assert sorted(JobStore(store.folder).recover()) == sorted([running, paused_mid_render])
    states = {job.id: job.state for job in store.list()}
    assert states == {
        running: "interrupted",
        paused_mid_render: "interrupted",
        paused_queued: "paused",
        queued: "queued",
    }
    assert store.get(running).to_dict()["resumable"]


def test_unknown_and_malformed_ids(store):
    for job_id in ("0" * 32, "../../etc/passwd", "A" * 32, ""):
        with pytest.raises(JobNotFound):
            store.get(job_id)


def test_delete_refuses_a_running_job(store):
    _, (job_id,) = store.submit([{}])
    store.claim_next()
    with pytest.raises(IllegalTransition, match="cancel it before deleting it"):
        store.delete(job_id)
    store.move(job_id, "cancelled")
    store.delete(job_id)
    with pytest.raises(JobNotFound):
        store.get(job_id)


def test_parallel_claims_never_hand_out_a_job_twice(store):
    _, ids = store.submit([{}] * 40)
    claimed, lock = [], threading.Lock()

    def claim():
        while (job := store.claim_next()) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(ids)


def test_credentials():
    assert parse_credentials("alice:secret, bob:p:w") == {"alice": "secret", "bob": "p:w"}
    assert parse_credentials(None) == {} and parse_credentials("") == {}
    with pytest.raises(ValueError, match="user:password"):
        parse_credentials("alice")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (",,,", "gives no user:password"),
        ("alice:", "empty password"),
        ("alice:a,alice:b", "given twice"),
        (":secret", "user:password"),
    ],
)
def test_credentials_that_would_turn_auth_off_or_mislead_are_refused(text, message):
    with pytest.raises(CredentialsError, match=message):
        parse_credentials(text)


def test_the_basic_scheme_is_case_insensitive():
    token = base64.b64encode(b"alice:secret").decode()
    for scheme in ("Basic", "basic", "BASIC"):
        assert check_basic(f"{scheme} {token}", {"alice": "secret"})
    credentials = {"alice": "secret"}

    def basic(text):
        return "Basic " + base64.b64encode(text.encode()).decode()

    assert check_basic(basic("alice:secret"), credentials)
    assert not check_basic(basic("alice:wrong"), credentials)
    assert not check_basic(basic("bob:secret"), credentials)
    assert not check_basic("Basic !!notbase64", credentials)
    assert not check_basic(None, credentials)
    assert check_basic(None, {})


def test_submit_validates_every_item_and_names_it(tmp_path):
    service = JobService(WanAPI(output_dir=tmp_path), tmp_path / "jobs", start=False)
    try:
        with pytest.raises(SettingsError) as caught:
            service.submit([{"max_frames": 17}, {"W": 10}, "nonsense"])
        keys = [error.key for error in caught.value.errors]
        assert keys == ["[1].W", "[2].settings"]
        assert service.store.list() == []  # nothing of a bad batch is queued
        with pytest.raises(SettingsError, match="non-empty list"):
            service.submit([])
    finally:
        service.close()


def test_a_failure_does_not_stop_the_queue(tmp_path):
    def generate(job, control, report):
        if job.settings["max_frames"] == 2:
            raise RuntimeError("boom")
        return {"ok": job.settings["max_frames"]}

    service = JobService(WanAPI(output_dir=tmp_path), tmp_path / "jobs", generate=generate)
    try:
        _, ids = service.submit([{"max_frames": 1}, {"max_frames": 2}, {"max_frames": 3}])
        deadline = time.time() + 10
        while time.time() < deadline and any(service.get(i).state in ("queued", "running") for i in ids):
            time.sleep(0.05)
        states = [service.get(i).state for i in ids]
        assert states == ["succeeded", "failed", "succeeded"]
        assert "internal error: RuntimeError: boom" in service.get(ids[1]).error
        assert service.get(ids[2]).result == {"ok": 3}
    finally:
        service.close()


def test_pause_resume_cancel_of_a_running_job(tmp_path):
    started = threading.Event()

    def generate(job, control, report):
        started.set()
        for _ in range(400):
            control.checkpoint()
            time.sleep(0.01)
        return {}

    service = JobService(WanAPI(output_dir=tmp_path), tmp_path / "jobs", generate=generate)
    try:
        _, (job_id,) = service.submit({"max_frames": 17})
        assert started.wait(10)
        assert service.pause(job_id).state == "paused"
        with pytest.raises(IllegalTransition):
            service.pause(job_id)
        assert service.resume(job_id).state == "running"
        assert service.cancel(job_id).state == "cancelled"
        deadline = time.time() + 10
        while service.get(job_id).finished is None and time.time() < deadline:
            time.sleep(0.02)
        assert service.get(job_id).state == "cancelled" and service.get(job_id).finished
        assert service.resume(job_id).state == "queued"  # cancelled jobs can be resumed
    finally:
        service.close()


def test_wan_api_plans_analyses_and_lists_without_a_gpu(tmp_path):
    api = WanAPI(output_dir=tmp_path, models_dir=tmp_path / "models")
    settings = {
        "prompts": {"0": "a fox", "16": "a den"},
        "max_frames": 32,
        "fps": 16,
        "translation_x": "0:(3)",
    }
    plan = api.create_generation_plan(settings, seed=1)
    assert plan.clips[0].base_prompt == "a fox"
    segments = api.analyze_movement(settings)
    assert len(segments) == 2 and "panning" in segments[0].description
    listing = api.list_models()
    assert {"vace-1.3b", "t2v-1.3b"} <= {m["id"] for m in listing["models"]}
    assert "qwen2.5-1.5b" in {m["id"] for m in listing["enhancers"]}
    info = api.system_info()
    assert info["suggested_memory_preset"] in ("none", "conservative", "balanced", "aggressive")
    with pytest.raises(SettingsError, match="max_frames"):
        api.create_generation_plan({"max_frames": 0})


def test_jobs_are_refused_when_the_runtime_is_not_ready(tmp_path):
    from wan.runtime import RuntimeEnv
    from wan.service import GenerationUnavailable

    runtime = RuntimeEnv(tmp_path / "runtime")  # never prepared
    service = JobService(WanAPI(output_dir=tmp_path), tmp_path / "jobs", runtime=runtime, start=False)
    try:
        with pytest.raises(GenerationUnavailable, match="has not been prepared"):
            service.submit({"max_frames": 17})
        assert service.store.list() == []
    finally:
        service.close()


def _crashing_runtime(tmp_path, script: str):
    """A runtime whose `python -m wan worker` is a small script (how the pool sees a worker die)."""
    from wan.runtime import RuntimeEnv

    fake = tmp_path / "fake_python.py"
    fake.write_text(script)

    class Runtime(RuntimeEnv):
        def command(self, *arguments: str) -> list[str]:
            return [sys.executable, str(fake), *arguments]

    return Runtime.current()


def test_a_worker_that_dies_at_start_is_reported_not_restarted_forever(tmp_path):
    from wan.service.workers import MAX_QUICK_EXITS, ProcessWorkers

    runtime = _crashing_runtime(tmp_path, "import sys\nprint('CUDA error: no kernel image')\nsys.exit(3)\n")
    store = JobStore(tmp_path / "jobs")
    pool = ProcessWorkers(store, runtime)
    for _ in range(MAX_QUICK_EXITS + 2):
        pool.ensure()
        deadline = time.time() + 10
        while pool.slots[0].process is not None and pool.slots[0].process.poll() is None:
            assert time.time() < deadline
            time.sleep(0.02)
        pool.check()
    problem = pool.problem()
    assert problem is not None and "stopped 3 times right after starting (exit code 3)" in problem
    assert "CUDA error: no kernel image" in pool.log_path("worker-0").read_text()
    pool.retry()
    assert pool.problem() is None


def test_a_job_of_a_worker_that_died_is_interrupted_and_resumable(tmp_path):
    from wan.service.workers import ProcessWorkers

    # claims the job it is given, then dies as a segfault would
    script = (
        "import os, sys, time\n"
        "from wan.service.jobs import JobStore\n"
        "args = sys.argv\n"
        "store = JobStore(args[args.index('--queue') + 1]); me = args[args.index('--id') + 1]\n"
        "store.report_worker(me, 'idle')\n"
        "deadline = time.time() + 20\n"
        "while time.time() < deadline:\n"
        "    if store.claim(me):\n"
        "        os._exit(139)\n"
        "    time.sleep(0.05)\n"
    )
    runtime = _crashing_runtime(tmp_path, script)
    service = JobService(WanAPI(output_dir=tmp_path), tmp_path / "jobs", runtime=runtime, workers=None)
    assert isinstance(service.workers, ProcessWorkers)
    try:
        _, (job_id,) = service.submit({"max_frames": 17})
        deadline = time.time() + 30
        while service.get(job_id).state != "interrupted" and time.time() < deadline:
            time.sleep(0.05)
        job = service.get(job_id)
        assert job.state == "interrupted" and job.resumable
        assert "the worker process stopped (exit code 139)" in job.error
    finally:
        service.close()


def test_a_cancel_that_arrives_after_the_last_step_leaves_the_job_succeeded(tmp_path):
    """The cancel lands while the video is being written: the render is complete, so the job is
    succeeded with a note (d1b0a49's worker recorded a finished video as cancelled)."""

    def generate(job, control, report):
        control.checkpoint()  # the last step
        service.cancel(job.id)  # arrives while the output is written: no checkpoint follows
        return {"video": "video.mp4"}

    from wan.service.worker import WorkerLoop

    service = JobService(WanAPI(output_dir=tmp_path), tmp_path / "jobs", generate=generate, start=False)
    try:
        _, (job_id,) = service.submit({"max_frames": 17})
        loop = WorkerLoop(service.store, "test-worker", generate=generate)
        service.store.assign(job_id, "test-worker")
        loop.run_job(service.store.claim("test-worker"))
        job = service.get(job_id)
        assert (job.state, job.result, job.error) == (
            "succeeded",
            {"video": "video.mp4"},
            "finished before the cancel took effect",
        )
    finally:
        service.close()


def test_a_callers_own_key_is_kept_for_the_worker_and_dropped_when_the_job_succeeds(tmp_path):
    """d1b0a49 kept the key in the job database for good."""
    seen = []

    def generate(job, control, report):
        seen.append(service.store.secrets(job.id).get("enhance_api_key"))
        return {}

    service = JobService(WanAPI(output_dir=tmp_path), tmp_path / "jobs", generate=generate)
    try:
        settings = {
            "max_frames": 17,
            "enhance_enabled": True,
            "enhance_backend": "openai",
            "enhance_api_url": "http://93.184.216.34/v1",  # a public address; the stand-in never calls it
        }
        _, (job_id,) = service.submit(settings, api_key="the-callers-key")
        deadline = time.time() + 30
        while service.get(job_id).state != "succeeded" and time.time() < deadline:
            time.sleep(0.02)
        assert service.get(job_id).state == "succeeded" and seen == ["the-callers-key"]
        assert service.store.secrets(job_id) == {}
        assert "the-callers-key" not in str(service.get(job_id).to_dict(settings=True))
    finally:
        service.close()


@pytest.mark.skipif(sys.platform == "win32", reason="Ctrl-C reaches a process group on POSIX")
@pytest.mark.parametrize("how", ["input closed", "ctrl-c"])
def test_a_worker_process_stops_cleanly(tmp_path, how):
    """The server closes a worker's input, or Ctrl-C in the WebUI's terminal reaches the worker
    too (its input still open): either way it ends with status 0 and no fatal error."""
    import signal

    from wan.runtime import RuntimeEnv
    from wan.service.workers import ProcessWorkers

    store = JobStore(tmp_path / "jobs")
    pool = ProcessWorkers(store, RuntimeEnv.current(), idle_exit=None)
    pool.ensure()
    deadline = time.time() + 120
    while not pool.ready():
        assert time.time() < deadline, pool.log_path("worker-0").read_text()
        time.sleep(0.2)
    process = pool.slots[0].process
    if how == "ctrl-c":
        process.send_signal(signal.SIGINT)
        process.wait(60)
    pool.stop(timeout=60)
    assert process.returncode == 0
    log = pool.log_path("worker-0").read_text()
    assert "Fatal Python error" not in log and "Traceback" not in log
