"""One render over several processes, on the CPU with the gloo backend and the tiny models:
context parallelism (Ulysses; diffusers' plan for Wan, ours for VACE) and CFG parallel give the
single-process output.

What cannot run here, and why: ring attention needs an attention kernel that returns the
log-sum-exp, and every such kernel in diffusers 0.42 is CUDA-only (its `native` backend raises
"Native attention does not support return_lse=True", and PyTorch has no CPU kernel for
aten::_scaled_dot_product_flash_attention); the GPU check runs it (benchmarks/GPU_CHECKS.md).
"""

import json
import os
import sys

import numpy as np
import pytest

pytest.importorskip("diffusers")

import torch
import torch.multiprocessing as mp

from wan.parallel import ParallelGroup, ParallelUnavailable, check_parallel_speed, context_split, vace_cp_plan
from wan.render.parallel_run import free_port
from wan.service import WanAPI

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gloo process groups on POSIX")

BASE = {
    "prompts": {"0": "a castle at dawn", "17": "a misty forest"},
    "max_frames": 29,
    "fps": 16,
    "W": 64,
    "H": 64,
    "steps": 3,
    "clip_frames": 17,
    "seed": 21,
    "memory_preset": "none",
}


@pytest.mark.parametrize(
    ("heads", "tokens", "degree", "ring", "expected"),
    [
        (12, 32760, 2, True, {"ulysses_degree": 2, "ulysses_anything": False}),
        (12, 32760, 4, True, {"ulysses_degree": 4, "ulysses_anything": False}),
        (12, 80, 3, False, {"ulysses_degree": 3, "ulysses_anything": True}),
        (40, 32760, 8, True, {"ulysses_degree": 8, "ulysses_anything": False}),
        (12, 32764, 5, True, {"ring_degree": 5, "ring_anything": True}),
        (40, 32760, 3, True, {"ring_degree": 3, "ring_anything": False}),
        (12, 100, 1, True, {}),
    ],
)
def test_ulysses_when_the_heads_divide_ring_otherwise(heads, tokens, degree, ring, expected):
    assert context_split(heads, tokens, degree, ring_available=ring) == expected


def test_without_a_ring_kernel_a_count_that_does_not_divide_the_heads_is_refused():
    with pytest.raises(ParallelUnavailable, match="12 attention heads do not divide by 5"):
        context_split(12, 100, 5, ring_available=False)


def test_a_step_cache_cannot_run_split():
    check_parallel_speed("none")
    with pytest.raises(ParallelUnavailable, match="speed_cache to none"):
        check_parallel_speed("first_block")


@pytest.mark.parametrize(
    ("world", "guidance", "layout"),
    [(2, True, (2, 1)), (2, False, (1, 2)), (3, True, (1, 3)), (4, True, (2, 2))],
)
def test_cfg_parallel_takes_two_processes_when_guidance_is_on(world, guidance, layout):
    assert ParallelGroup(0, world, 0, "cpu").layout(guidance) == layout


# -- decisions rank 0 makes for every rank ---------------------------------------------------------
def _no_model():
    from wan.errors import WanError

    raise WanError("no such model")


def _deciding_rank(rank, world, port, results):
    import threading

    from wan.errors import WanError
    from wan.parallel import join_group, leave_group, rank_environment

    group = join_group("cpu", rank_environment(rank, world, "127.0.0.1", port, rank))
    seen = []
    try:
        seen.append(group.from_rank_zero(lambda: f"rank {rank}'s plan"))
        for make in (_no_model, threading.Lock):
            try:
                group.from_rank_zero(make)
            except (WanError, RuntimeError) as exc:
                seen.append(f"{type(exc).__name__}: {str(exc)[:40]}")
        group.barrier()
    finally:
        leave_group()
    results.put((rank, seen))


def test_every_rank_takes_rank_zeros_answer_and_its_errors():
    """A value rank 0 makes reaches every rank; an error it raises is raised on every rank, and an
    answer that cannot be sent (a lock) is an error on every rank, so none waits for it."""
    results = mp.get_context("spawn").SimpleQueue()
    mp.start_processes(_deciding_rank, args=(2, free_port(), results), nprocs=2, start_method="spawn")
    answers = dict(results.get() for _ in range(2))
    assert answers[0] == answers[1]
    assert answers[0][:2] == ["rank 0's plan", "WanError: no such model"]
    assert answers[0][2].startswith("RuntimeError: rank 0's answer could not be")


# -- the transformers split by their plans ---------------------------------------------------------
def _transformer_rank(rank, world, port, kinds, results):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    from torch.distributed.device_mesh import init_device_mesh

    from wan.models.architectures import transformer_class
    from wan.models.tiny import tiny_transformer_config
    from wan.parallel import join_group, leave_group
    from wan.parallel.context import enable_context_parallel

    join_group("cpu")
    try:
        for kind in kinds:
            torch.manual_seed(0)
            config = tiny_transformer_config(kind)
            model = transformer_class(config)(**config).eval()
            noise = torch.Generator().manual_seed(1)
            inputs = {
                "hidden_states": torch.randn(1, 16, 3, 8, 12, generator=noise),
                "timestep": torch.tensor([500]),
                "encoder_hidden_states": torch.randn(1, 8, 32, generator=noise),
                "return_dict": False,
            }
            if kind == "vace":
                inputs["control_hidden_states"] = torch.randn(1, 96, 3, 8, 12, generator=noise)
            with torch.no_grad():
                whole = model(**inputs)[0]
            seen = []
            model.blocks[1].register_forward_pre_hook(
                lambda _m, args, seen=seen: seen.append(args[0].shape[1])
            )
            mesh = init_device_mesh("cpu", (1, world), mesh_dim_names=("ring", "ulysses"))
            enable_context_parallel(model, context_split(2, 72, world, ring_available=False), mesh)
            with torch.no_grad():
                split = model(**inputs)[0]
            if rank == 0:
                results.put((kind, float((split - whole).abs().max()), seen[0], tuple(whole.shape)))
    finally:
        leave_group()


def test_a_transformer_split_over_two_processes_gives_the_whole_output():
    """Wan with diffusers' plan, VACE with ours: each process's blocks see half the tokens
    (3 frames x 4 x 6 patches = 72), and the gathered output is the unsplit one."""
    results = mp.get_context("spawn").SimpleQueue()
    kinds = ("t2v", "vace")
    mp.start_processes(
        _transformer_rank, args=(2, free_port(), kinds, results), nprocs=2, start_method="spawn"
    )
    for kind in kinds:
        name, difference, tokens_seen, shape = results.get()
        assert name == kind
        assert tokens_seen == 36
        assert shape == (1, 16, 3, 8, 12)
        assert difference <= 1e-5


def test_the_vace_plan_splits_both_streams_at_their_first_block():
    plan = vace_cp_plan()
    assert set(plan["vace_blocks.0"]) == {"hidden_states", "control_hidden_states"}
    assert plan["proj_out"].gather_dim == 1 and plan["blocks.0"]["hidden_states"].split_dim == 1


# -- whole renders ---------------------------------------------------------------------------------
def _frames(result):
    from wan.render import RunFolder

    frames = RunFolder(result.run_dir).latest().read_model_frames(range(result.plan.model_frames))
    return frames.astype(np.int16)


@pytest.mark.parametrize(
    ("model", "guidance", "expect"),
    [("tiny-t2v", 5.0, {"context_parallel": 1, "cfg_parallel": 2})],
    ids=["t2v-cfg"],
)
def test_a_render_over_two_processes_equals_the_single_process_render(
    tmp_path, tiny_models_dir, model, guidance, expect
):
    """Two clips (the second chained on the first's frames for VACE), guidance off (context
    parallel) or on (CFG parallel): the same frames as one process, only rank 0's run folder."""
    from wan.models.tiny import ensure_tiny_model
    from wan.render import RunFolder

    ensure_tiny_model(model, tiny_models_dir / model)
    api = WanAPI(output_dir=tmp_path, models_dir=tiny_models_dir, device="cpu")
    settings = BASE | {"model": model, "guidance_scale": guidance}
    single = api.generate(settings, run_dir=tmp_path / "single", write_video=False)
    events = []
    split = api.generate(
        settings,
        run_dir=tmp_path / "split",
        write_video=False,
        processes=2,
        process_device="cpu",
        callback=events.append,
    )
    assert len(split.plan.clips) == 2
    difference = np.abs(_frames(split) - _frames(single)).max()
    assert difference <= 2, difference  # uint8 frames: float rounding at most
    decisions = split.metrics["parallel"]["models"][0]
    assert {key: decisions.get(key) for key in expect} == expect
    metrics = json.loads(RunFolder(tmp_path / "split").latest().metrics_path.read_text())
    assert metrics["parallel"]["processes"] == 2
    assert {e.kind for e in events} >= {"clip_done", "done"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["single", "split"]  # no other rank's folder


def test_a_vace_render_split_by_context_resumes_from_its_last_finished_clip(tmp_path, tiny_models_dir):
    """The first clip rendered by one process, the second (chained on the first's frames) by two
    splitting its sequence: the frames of a whole single-process render."""
    from wan.models.tiny import ensure_tiny_model
    from wan.render import RenderCancelled, RenderControl, RunFolder

    ensure_tiny_model("tiny", tiny_models_dir / "tiny")
    api = WanAPI(output_dir=tmp_path, models_dir=tiny_models_dir, device="cpu")
    settings = BASE | {"model": "tiny", "guidance_scale": 1.0}
    whole = api.generate(settings, run_dir=tmp_path / "whole", write_video=False)
    control = RenderControl()

    def stop_after_the_first_clip(event):
        if event.kind == "clip_done":
            control.cancel()

    with pytest.raises(RenderCancelled):  # the first clip is on disk, the second not
        api.generate(
            settings,
            run_dir=tmp_path / "part",
            write_video=False,
            callback=stop_after_the_first_clip,
            control=control,
        )
    assert RunFolder(tmp_path / "part").latest().first_unfinished() == 1
    resumed = api.generate(
        settings, run_dir=tmp_path / "part", resume=True, write_video=False, processes=2, process_device="cpu"
    )
    assert resumed.clips_rendered == 1 and resumed.plan.clips[1].conditioning == "previous_clip"
    assert np.abs(_frames(resumed) - _frames(whole)).max() <= 2
    decisions = resumed.metrics["parallel"]["models"][0]
    assert decisions["context_parallel"] == 2 and decisions["ulysses_degree"] == 2


def test_a_re_render_from_a_run_split_over_two_processes_renders_only_what_changed(tmp_path, tiny_models_dir):
    """`generate --gpus N --from RUN`: the second prompt edited, the first clip reused from the
    run, the second rendered by two processes; the frames of a fresh single-process render of the
    edited settings, in a new take of the same run."""
    from wan.models.tiny import ensure_tiny_model
    from wan.render import RunFolder

    ensure_tiny_model("tiny", tiny_models_dir / "tiny")
    api = WanAPI(output_dir=tmp_path, models_dir=tiny_models_dir, device="cpu")
    settings = BASE | {"model": "tiny", "guidance_scale": 1.0}
    api.generate(settings, run_dir=tmp_path / "run", write_video=False)
    edited = settings | {"prompts": {"0": "a castle at dawn", "17": "a heron over a lake"}}
    fresh = api.generate(edited, run_dir=tmp_path / "fresh", write_video=False)
    again = api.generate(
        edited | {"from_run": str(tmp_path / "run")},
        run_dir=tmp_path / "run",
        write_video=False,
        processes=2,
        process_device="cpu",
    )
    assert again.take == 2 and again.rendered == (1,)  # clip 0 reused, clip 1 rendered split
    assert RunFolder(tmp_path / "run").latest().number == 2
    assert np.abs(_frames(again) - _frames(fresh)).max() <= 2
    assert again.metrics["parallel"]["processes"] == 2


@pytest.mark.parametrize(
    ("value", "line"),
    [("2", "error: --gpus 2: no GPU was found"), ("x", "error: --gpus: 'x' is not all, a number of GPUs")],
)
def test_generate_gpus_on_a_machine_without_gpu_is_one_line(tmp_path, value, line):
    import subprocess
    from pathlib import Path

    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(BASE | {"model": "tiny"}))
    command = [
        sys.executable,
        "-m",
        "wan",
        "generate",
        str(settings),
        "--gpus",
        value,
        "--out",
        str(tmp_path / "run"),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=Path(__file__).parent.parent, timeout=120
    )
    lines = [line for line in done.stderr.strip().splitlines() if line.startswith("error")]
    assert done.returncode != 0 and len(lines) == 1 and lines[0].startswith(line), done.stderr
    assert not (tmp_path / "run").exists()
