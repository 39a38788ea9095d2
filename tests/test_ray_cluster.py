"""Workers as Ray actors (`serve --ray`): a local Ray cluster of CPU actors on this machine
(loopback only), the real tiny model. Jobs on two actors give the videos serial runs give, an
actor killed mid-job loses nothing (its job continues on an actor from its last finished clip,
shipped to the head already), and bad --ray values end with one line."""

from pathlib import Path

import numpy as np
import pytest
from conftest import run_serve, serial_runs, take_frames, wait_until
from hosts.tiny_job import TINY_JOB as FOX_AND_DEN

from wan.cluster import RayClusterError, parse_ray_address, start_ray_workers
from wan.cluster.ray_workers import _on_head
from wan.cluster.shipping import read_changed, stamps, write_files

ROOT = Path(__file__).parent.parent
TINY_JOB = FOX_AND_DEN | {"max_frames": 30, "seed": 5}


def test_shipped_files_arrive_whole_and_only_when_changed(tmp_path):
    node, head = tmp_path / "node", tmp_path / "head"
    (node / "clips").mkdir(parents=True)
    (node / "clips" / "0000.json").write_text("{}")
    (node / "plan.json").write_text('{"a": 1}')
    seen = {}
    first = read_changed(node, seen)
    assert set(first) == {"clips/0000.json", "plan.json"} and read_changed(node, seen) == {}
    (node / "video.mp4").write_bytes(b"video")
    # what is still being written is left for a later look: a clip being stored, temporary files
    (node / "clips" / "ab12.partial-1f2e" / "frames").mkdir(parents=True)
    (node / "clips" / "ab12.partial-1f2e" / "frames" / "000000.png").write_bytes(b"png")
    (node / "plan.json.tmp").write_text("{")
    assert read_changed(node, seen) == {"video.mp4": b"video"}
    write_files(head, first)
    assert set(stamps(head)) == {"clips/0000.json", "plan.json"}
    assert not list(head.rglob("*.part"))
    with pytest.raises(ValueError, match="outside its run folder"):
        write_files(head, {"../escape.txt": b"x"})
    assert _on_head({"run_dir": "/n/run", "video": "/n/run/video.mp4", "frames_dir": None}, Path("/h")) == {
        "run_dir": "/h",
        "video": "/h/video.mp4",
        "frames_dir": None,
    }


@pytest.mark.parametrize("value", ["", "everywhere", "host", "http://host:6379", "a b:1"])
def test_a_bad_ray_value_names_the_option_and_what_is_allowed(value):
    with pytest.raises(RayClusterError, match=r"^--ray: .* is not auto .*, local .* or HOST:PORT"):
        parse_ray_address(value)
    assert parse_ray_address("local") is None
    assert parse_ray_address("head.lan:6379") == "head.lan:6379"
    assert parse_ray_address("ray://10.0.0.2:10001") == "ray://10.0.0.2:10001"


@pytest.mark.parametrize(
    ("arguments", "line"),
    [
        (["--ray", "everywhere"], "error: --ray: 'everywhere' is not auto (the running cluster), local"),
        (["--ray-shared-output"], "error: --ray-shared-output: only with --ray"),
        (["--ray", "auto", "--gpus", "0,1"], "error: --gpus 0,1: with --ray give all or a number of GPUs"),
    ],
)
def test_bad_ray_options_end_with_one_line(arguments, line):
    done = run_serve(*arguments, timeout=180)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), done.stderr


def test_an_unreachable_cluster_is_one_line():
    pytest.importorskip("ray")
    done = run_serve("--ray", "127.0.0.1:9")
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --ray 127.0.0.1:9: no Ray cluster could be joined")


def test_jobs_on_two_actors_equal_serial_runs_and_a_killed_actor_loses_nothing(
    ray_cluster, tmp_path, tiny_models_dir
):
    pytest.importorskip("diffusers")
    from wan.models.tiny import ensure_tiny_model
    from wan.service import JobService, JobStore, WanAPI

    ensure_tiny_model("tiny", tiny_models_dir / "tiny")  # built once, before two actors load it
    api = WanAPI(output_dir=tmp_path, models_dir=tiny_models_dir)
    settings = [TINY_JOB, TINY_JOB | {"seed": 6}, TINY_JOB | {"seed": 7, "prompts": {"0": "a heron"}}]
    serial = serial_runs(api, settings, tmp_path)

    queue = tmp_path / "jobs"
    pool = start_ray_workers(
        JobStore(queue),
        "auto",
        api_options={"output_dir": str(tmp_path), "models_dir": str(tiny_models_dir)},
        workers=2,
    )
    service = JobService(api, queue, workers=pool)
    try:
        _, ids = service.submit(settings)
        victim = ids[0]
        clips = Path(service.get(victim).run_dir) / "clips"  # clips/<fingerprint>/clip.json
        first_clip = wait_until(
            lambda: next(iter(clips.glob("*/clip.json")), None), 300, "the first clip never reached the head"
        )
        finished_at = first_clip.stat().st_mtime_ns
        job = service.get(victim)
        assert job.state == "running" and job.worker, "the job ended before its second clip"
        slot = next(s for s in pool.slots if s.worker_id == job.worker)
        ray_cluster.kill(slot.actor, no_restart=False)  # Ray restarts it, as when a node comes back
        wait_until(
            lambda: all(service.get(j).state in ("succeeded", "failed", "interrupted") for j in ids),
            420,
            "the jobs did not finish",
        )
        jobs = [service.get(j) for j in ids]
        assert [j.state for j in jobs] == ["succeeded"] * 3, [j.error for j in jobs]
        assert first_clip.stat().st_mtime_ns == finished_at  # continued from it, not made again
        assert jobs[0].attempts == 2  # given back to the queue once, then continued
        assert 0 < jobs[0].result["clips_rendered"] < serial[0].clips_rendered  # the rest only
        for job, alone in zip(jobs, serial, strict=True):
            assert Path(job.run_dir) in Path(job.result["video"]).parents  # on the head, in its take
            assert Path(job.result["video"]).stat().st_size > 0
            assert np.array_equal(take_frames(job.result["video"]), take_frames(alone.video))
        reports = {w.id: w.info for w in service.store.workers()}
        assert set(reports) == {"ray-0", "ray-1"} and all(r.get("node") for r in reports.values())
    finally:
        service.close()


def test_a_shared_output_folder_is_written_by_the_actors_and_cancel_and_resume_work(
    ray_cluster, tmp_path, tiny_models_dir
):
    pytest.importorskip("diffusers")
    from wan.service import JobService, JobStore, WanAPI

    out = tmp_path / "shared"
    api = WanAPI(output_dir=out, models_dir=tiny_models_dir)
    queue = out / "jobs"
    pool = start_ray_workers(
        JobStore(queue),
        "auto",
        api_options={"output_dir": str(out), "models_dir": str(tiny_models_dir)},
        workers=1,
        shared_output=out,  # one machine: the same folder for every actor, the check passes
    )
    actor = pool.slots[0].actor
    assert pool.shared and not ray_cluster.get(actor.check_shared.remote(str(out), "another token"))
    service = JobService(api, queue, workers=pool)
    try:
        _, (job_id,) = service.submit([TINY_JOB])
        clips = Path(service.get(job_id).run_dir) / "clips"  # clips/<fingerprint>/clip.json
        first_clip = wait_until(
            lambda: next(iter(clips.glob("*/clip.json")), None), 300, "the first clip was never written"
        )
        service.cancel(job_id)
        wait_until(lambda: service.get(job_id).finished, 120, "the cancel never took effect")
        assert service.get(job_id).state == "cancelled" and first_clip.is_file()
        service.resume(job_id)
        done = wait_until(
            lambda: (job := service.get(job_id)).state in ("succeeded", "failed") and job, 300, "no end"
        )
        assert done.state == "succeeded", done.error
        assert (
            0 < done.result["clips_rendered"] < 3
            and Path(done.result["video"]).parent.parent.parent == first_clip.parent.parent.parent
        )  # <run>/takes/NNN/video.mp4 beside <run>/clips/<fingerprint>/clip.json, in the shared folder
    finally:
        service.close()


def test_the_actor_sees_the_settings_the_head_forwards():
    """A PATCH on the head reaches the job runner on the actor through the next poll."""
    from wan.cluster.actor import RenderActor, _HeadView
    from wan.service.jobs import Job

    actor = RenderActor({})
    job = Job(
        id="j",
        batch_id="b",
        position=0,
        state="running",
        settings={"seed": 1},
        run_dir="/nowhere",
        created=0.0,
        started=0.0,
        finished=None,
        error="",
        progress={},
        result={},
        attempts=1,
    )
    view = _HeadView(actor, job, {"enhance_api_key": "k"})
    assert view.get("j").settings == {"seed": 1} and view.secrets("j") == {"enhance_api_key": "k"}
    actor.poll("running", settings={"seed": 2})
    assert view.get("j").settings == {"seed": 2}
    actor.poll("running")  # a poll without settings (the job was deleted) keeps the last ones
    assert view.get("j").settings == {"seed": 2}
