"""Context-parallel groups of Ray actors (`serve --ray ... --group-size N`): a local Ray cluster of
two CPUs holding one group of two CPU actors (gloo), the real tiny model. A job on the group gives
the frames of a single-process render; pause and cancel reach every rank, which are then free for
the next job; a lost rank gives the job back to the queue, which continues it from its last
finished clip; bad --group-size values end with one line."""

from pathlib import Path

import numpy as np
import pytest
from conftest import run_serve, serial_runs, take_frames, wait_until
from hosts.tiny_job import TINY_JOB as FOX_AND_DEN

from wan.cluster import RayClusterError, start_ray_workers
from wan.cluster.sizing import check_group_size, group_count, groups_that_fit

GROUP_JOB = FOX_AND_DEN | {
    "prompts": {"0": "a lighthouse", "17": "a storm at sea"},
    "max_frames": 29,
    "seed": 9,
    "guidance_scale": 1.0,  # no CFG pair: both ranks split each sequence (context parallel)
}
ENDED = ("succeeded", "failed", "cancelled", "interrupted")


def _same_frames(video, alone):
    """The frames of two videos' takes, equal up to float rounding (as tests/test_parallel.py)."""
    split, whole = take_frames(video).astype(np.int16), take_frames(alone).astype(np.int16)
    return split.shape == whole.shape and np.allclose(split, whole, rtol=0, atol=2)


def _group_service(tmp_path, tiny_models_dir):
    """A queue whose one worker is a group of two CPU actors (on the ray_cluster fixture's cluster)."""
    from wan.models.tiny import ensure_tiny_model
    from wan.service import JobService, JobStore, WanAPI

    ensure_tiny_model("tiny", tiny_models_dir / "tiny")  # built once, before the actors load it
    api = WanAPI(output_dir=tmp_path, models_dir=tiny_models_dir)
    queue = tmp_path / "jobs"
    pool = start_ray_workers(
        JobStore(queue),
        "auto",
        api_options={"output_dir": str(tmp_path), "models_dir": str(tiny_models_dir)},
        workers=1,
        group_size=2,
    )
    assert [len(slot.actors) for slot in pool.slots] == [2]
    return api, pool, JobService(api, queue, workers=pool)


def _ended(service, job_id, timeout=420):
    """The job once its worker has recorded its end (a cancelled job is cancelled at once)."""
    return wait_until(
        lambda: (job := service.get(job_id)).state in ENDED and job.finished and job, timeout, "no end"
    )


def test_a_job_on_a_group_of_two_actors_gives_the_single_process_frames(
    ray_cluster, tmp_path, tiny_models_dir
):
    pytest.importorskip("diffusers")
    api, _pool, service = _group_service(tmp_path, tiny_models_dir)
    try:
        (alone,) = serial_runs(api, [GROUP_JOB], tmp_path)
        _, (job_id,) = service.submit([GROUP_JOB])
        job = _ended(service, job_id)
        assert job.state == "succeeded", job.error
        assert job.attempts == 1 and job.result["clips_rendered"] == 2
        assert Path(job.run_dir) in Path(job.result["video"]).parents  # shipped to the head
        assert _same_frames(job.result["video"], alone.video)
        parallel = job.result["metrics"]["parallel"]
        assert parallel["processes"] == 2 and parallel["device"] == "cpu"
        assert parallel["models"][0]["context_parallel"] == 2
        (worker,) = service.store.workers()
        assert worker.id == "ray-0" and len(worker.info["group"]) == 2  # one queue worker, two actors
    finally:
        service.close()


def test_pause_cancel_and_new_settings_reach_every_rank_and_the_group_takes_the_next_job(
    ray_cluster, tmp_path, tiny_models_dir
):
    pytest.importorskip("diffusers")
    api, pool, service = _group_service(tmp_path, tiny_models_dir)
    slot = pool.slots[0]
    processes = ray_cluster.get([actor.describe.remote() for actor in slot.actors])
    try:
        long_job = GROUP_JOB | {"max_frames": 93, "steps": 4}  # six clips
        _, (first,) = service.submit([long_job])
        wait_until(lambda: service.get(first).progress.get("kind") == "step", 300, "no step was rendered")
        service.pause(first)
        wait_until(lambda: service.get(first).state == "paused", 30, "the pause was not taken")
        service.cancel(first)
        cancelled = _ended(service, first)
        assert cancelled.state == "cancelled", (cancelled.state, cancelled.error)
        # every rank left the job by itself: none was killed and restarted
        wait_until(lambda: slot.loop.state == "idle", 60, "the group's loop did not become idle")
        assert slot.healthy
        again = ray_cluster.get([actor.describe.remote() for actor in slot.actors])
        assert [p["pid"] for p in again] == [p["pid"] for p in processes]

        # the next job: held before its first step, given new settings, then let go; both ranks
        # go on with them in a new take (rank 0's replan, shared) and give their frames
        second = GROUP_JOB | {"seed": 11}
        changed = second | {"prompts": {"0": "a lighthouse", "17": "a calm harbour"}}
        (alone,) = serial_runs(api, [changed], tmp_path)
        _, (job_id,) = service.submit([second])
        wait_until(lambda: service.get(job_id).state == "running", 120, "the second job never started")
        service.pause(job_id)
        service.patch(job_id, {"prompts": changed["prompts"]})
        service.resume(job_id)
        done = _ended(service, job_id)
        assert done.state == "succeeded", done.error
        assert done.result["take"] == 2 and done.result["metrics"]["parallel"]["processes"] == 2
        assert _same_frames(done.result["video"], alone.video)
    finally:
        service.close()


def test_a_lost_rank_gives_the_job_back_and_it_continues_from_its_last_clip(
    ray_cluster, tmp_path, tiny_models_dir
):
    pytest.importorskip("diffusers")
    api, pool, service = _group_service(tmp_path, tiny_models_dir)
    try:
        settings = GROUP_JOB | {"max_frames": 45, "seed": 10}
        (alone,) = serial_runs(api, [settings], tmp_path)
        _, (job_id,) = service.submit([settings])
        clips = Path(service.get(job_id).run_dir) / "clips"  # clips/<fingerprint>/clip.json
        first_clip = wait_until(
            lambda: next(iter(clips.glob("*/clip.json")), None), 300, "the first clip never reached the head"
        )
        finished_at = first_clip.stat().st_mtime_ns
        assert service.get(job_id).state == "running", "the job ended before its second clip"
        ray_cluster.kill(pool.slots[0].actors[1], no_restart=False)  # rank 1 dies; Ray restarts it
        job = _ended(service, job_id)
        assert job.state == "succeeded", job.error
        assert job.attempts == 2  # given back to the queue once, then continued on the restarted group
        assert first_clip.stat().st_mtime_ns == finished_at  # continued from it, not made again
        assert 0 < job.result["clips_rendered"] < alone.clips_rendered  # the rest only
        assert _same_frames(job.result["video"], alone.video)
    finally:
        service.close()


# -- the number of groups and the options, without a cluster ---------------------------------------
class _Cluster:
    """What group_count asks of Ray: the cluster's resources and its nodes."""

    def __init__(self, *nodes: dict[str, float]) -> None:
        self.resources = nodes

    def cluster_resources(self) -> dict[str, float]:
        return {"GPU": sum(node.get("GPU", 0) for node in self.resources)}

    def nodes(self) -> list[dict]:
        return [{"Alive": True, "Resources": node} for node in self.resources]


def test_groups_are_counted_from_the_gpus_and_must_fit_on_one_node():
    two_nodes = _Cluster({"GPU": 4, "CPU": 16}, {"GPU": 4, "CPU": 16})
    assert group_count(two_nodes, "all", None, 4) == (2, True)
    assert group_count(two_nodes, None, None, 2) == (4, True)  # the default: every GPU
    assert group_count(two_nodes, "4", None, 2) == (2, True)
    assert group_count(two_nodes, None, 3, 2) == (3, True)  # --workers: groups
    assert group_count(two_nodes, "all", None, 1) == (8, True)  # one actor per GPU, as before
    assert groups_that_fit(two_nodes, 8, True) == 0  # eight GPUs, but not on one node
    with pytest.raises(RayClusterError, match=r"^--group-size 8: .* hold 0 group\(s\) of 8 GPUs on one node"):
        group_count(two_nodes, "all", None, 8)
    with pytest.raises(RayClusterError, match=r"^--group-size 3: --gpus all gives 8 GPU\(s\), which do not"):
        group_count(two_nodes, "all", None, 3)
    cpus = _Cluster({"CPU": 2})
    assert group_count(cpus, None, 1, 2) == (1, False)
    with pytest.raises(RayClusterError, match=r"^--group-size 2: .* hold 1 group\(s\) of 2 CPUs"):
        group_count(cpus, None, 2, 2)


@pytest.mark.parametrize("value", ["0", "65", "-1", "x", "2.5", ""])
def test_a_bad_group_size_names_the_option_and_the_range(value):
    with pytest.raises(RayClusterError, match=r"^--group-size must be a whole number from 1 to 64"):
        check_group_size(value)
    assert check_group_size("64") == 64 and check_group_size(2) == 2


@pytest.mark.parametrize(
    ("arguments", "line"),
    [
        (["--group-size", "2"], "error: --group-size: only with --ray"),
        (["--ray", "auto", "--group-size", "0"], "error: --group-size must be a whole number from 1 to 64"),
        (["--ray", "auto", "--group-size", "two"], "error: --group-size must be a whole number from 1 to 64"),
        (
            ["--ray", "auto", "--gpus", "3", "--group-size", "2"],
            "error: --group-size 2: --gpus 3 does not divide into groups of 2 GPUs",
        ),
    ],
)
def test_bad_group_options_end_with_one_line(arguments, line):
    done = run_serve(*arguments, timeout=180)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), done.stderr
