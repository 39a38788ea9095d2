"""A queue across several workers: one worker process per GPU (each sees only its GPU), jobs go to
a free worker that last used their model, and a dead worker's job is continued by another from
its last finished clip. This machine has no GPU: the real worker processes run on the CPU
(`serve --workers N`); which GPU each would see is checked on the environment they get."""

import os
import signal
import sys
from pathlib import Path

import pytest
from conftest import run_serve, wait_until
from hosts.tiny_job import TINY_JOB as FOX_AND_DEN

from wan.runtime import RuntimeEnv
from wan.service import JobService, JobStore, WanAPI
from wan.service.dispatcher import preferred_worker
from wan.service.jobs import WorkerRecord
from wan.service.workers import REQUEUE_BELOW_ATTEMPTS, ProcessWorkers

ROOT = Path(__file__).parent.parent
TINY_JOB = {**FOX_AND_DEN, "steps": 4, "seed": 5}


def _record(worker_id, **info):
    return WorkerRecord(worker_id, 1, "host", "idle", 0.0, 0.0, info)


def _job(store, settings):
    _, (job_id,) = store.submit([settings])
    return store.get(job_id)


def test_a_job_goes_to_the_free_worker_that_last_used_its_model(tmp_path):
    store = JobStore(tmp_path)
    job = _job(store, {"model": "t2v-1.3b", "weights": "auto"})
    reports = [
        _record("w0", model="vace-1.3b", weights="auto"),
        _record("w1"),
        _record("w2", model="t2v-1.3b", weights="auto"),
    ]
    assert preferred_worker(["w0", "w1", "w2"], job, reports) == "w2"
    assert preferred_worker(["w0", "w1"], job, reports) == "w1"  # an empty one before another model's
    assert preferred_worker(["w0"], job, reports) == "w0"
    other_weights = _job(store, {"model": "t2v-1.3b", "weights": "nf4"})
    assert preferred_worker(["w0", "w2"], other_weights, reports) == "w0"


def test_a_dead_workers_job_is_queued_again_until_it_was_started_three_times(tmp_path):
    store = JobStore(tmp_path)
    _, (job_id,) = store.submit([{}])
    for attempt in range(1, REQUEUE_BELOW_ATTEMPTS + 1):
        assert store.assign(job_id, "w") and store.claim("w").attempts == attempt
        store.release(
            "w", reason="the worker process stopped (signal 9)", requeue_below=REQUEUE_BELOW_ATTEMPTS
        )
        job = store.get(job_id)
        if attempt < REQUEUE_BELOW_ATTEMPTS:
            assert job.state == "queued" and not job.worker and "continued by another worker" in job.error
    assert job.state == "interrupted" and job.resumable


def test_each_gpu_worker_sees_only_its_own_gpu(tmp_path):
    """The environment each worker process starts with (what CUDA reads): one GPU index each."""
    script = tmp_path / "fake_python.py"
    script.write_text(
        "import os, sys\nprint('visible=' + os.environ.get('CUDA_VISIBLE_DEVICES', 'unset'))\nsys.exit(0)\n"
    )

    class Runtime(RuntimeEnv):
        def command(self, *arguments):
            return [sys.executable, str(script), *arguments]

    pool = ProcessWorkers(JobStore(tmp_path / "jobs"), Runtime.current(), gpus=[0, 2])
    assert [s.worker_id for s in pool.slots] == ["worker-gpu0", "worker-gpu2"]
    assert pool.shares_host_gpu("worker-gpu0") and not pool.shares_host_gpu("worker-gpu2")
    pool.ensure()
    for slot in pool.slots:
        slot.process.wait(30)
    assert "visible=0" in pool.log_path("worker-gpu0").read_text()
    assert "visible=2" in pool.log_path("worker-gpu2").read_text()
    pool.stop()


@pytest.mark.skipif(sys.platform == "win32", reason="kills a worker with SIGKILL")
def test_two_worker_processes_share_the_queue_and_a_killed_ones_job_finishes_elsewhere(
    tmp_path, tiny_models_dir
):
    pytest.importorskip("diffusers")
    from wan.models.tiny import ensure_tiny_model

    ensure_tiny_model("tiny", tiny_models_dir / "tiny")  # built once, before two workers load it
    api = WanAPI(output_dir=tmp_path, models_dir=tiny_models_dir)
    service = JobService(api, tmp_path / "jobs", worker_count=2)
    assert len(service.workers.slots) == 2 and service.workers.requeue_below == REQUEUE_BELOW_ATTEMPTS
    try:
        _, ids = service.submit([TINY_JOB, TINY_JOB | {"seed": 6}])

        # two jobs render at once, one on each worker
        def two_running():
            running = [j for j in ids if service.get(j).state == "running"]
            return running if len(running) == 2 else None

        running = wait_until(two_running, 240, "two jobs never ran at the same time")
        assert len({service.get(j).worker for j in running}) == 2
        victim = running[0]
        clips = Path(service.get(victim).run_dir) / "clips"  # clips/<fingerprint>/clip.json
        first_clip = wait_until(lambda: next(iter(clips.glob("*/clip.json")), None), 240, "no first clip")
        finished_at = first_clip.stat().st_mtime_ns
        holder = service.get(victim).worker
        slot = next(s for s in service.workers.slots if s.worker_id == holder)
        if service.get(victim).state == "running":
            os.kill(slot.process.pid, signal.SIGKILL)
        done = wait_until(
            lambda: all(service.get(j).state in ("succeeded", "failed", "interrupted") for j in ids),
            360,
            "the jobs did not finish",
        )
        assert done
        jobs = {j: service.get(j) for j in ids}
        assert {job.state for job in jobs.values()} == {"succeeded"}, [job.error for job in jobs.values()]
        assert first_clip.stat().st_mtime_ns == finished_at  # continued, not made again
        assert jobs[victim].attempts in (1, 2)  # 2 when the kill came while it ran
        for job in jobs.values():
            assert (Path(job.run_dir) / "video.mp4").stat().st_size > 0
        models = {w.info.get("model") for w in service.store.workers()}
        assert models <= {"tiny", None}
    finally:
        service.close()


@pytest.mark.parametrize(
    ("arguments", "line"),
    [
        (["--gpus", "two"], "error: --gpus: 'two' is not all, a number of GPUs (2), or GPU indices"),
        (["--gpus", "0"], "error: --gpus: '0' must be at least 1 GPU"),
        (["--gpus", "all"], "error: --gpus all: no GPU was found"),
        (["--gpus", "0,3"], "error: --gpus 0,3: no GPU was found"),
        (["--workers", "0"], "error: --workers must be from 1 to 64 worker processes, not 0"),
        (["--gpus", "1", "--workers", "2"], "error: --workers: leave it out with --gpus"),
    ],
)
def test_bad_worker_options_end_with_one_line(arguments, line):
    done = run_serve(*arguments)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), done.stderr
