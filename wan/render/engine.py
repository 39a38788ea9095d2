"""Turning a GenerationPlan into a video, clip by clip.

render() reads top to bottom like a diffusers pipeline call:
1. the take of the run folder it renders (run_folder.py): a new run, a resume of the very same
   plan, or a revision that reuses every clip whose fingerprint is on disk already;
2. for each clip not on disk yet (between clips, new settings from `replan` start a new take that
   reuses what they leave unchanged):
   a. the pipeline of the clip's model, loaded on first use: prompts encoded once, the text
      encoder released, the LoRAs (fused, or adapters weighted per clip), a fixed-step scheduler
      for a step-distilled preset, fp8 storage, the memory preset, then the rest of the speed
      preset (attention kernel, step cache, torch.compile);
   b. its conditioning: text only, the init image, or the tail of the video so far;
   c. denoising with progress, previews, pause and cancel; an out-of-memory error frees memory,
      moves to the next memory preset and retries the clip;
   d. checks (NaN, black frames) and colour coherence with the first clip;
   e. its new frames, then its metadata, into the run folder's store of clips;
   Clips are rendered at the plan's render size; the output stage resizes to the output size.
3. the output frames at the output fps (interpolated, or the nearest model frames) and at the
   output size, the MP4 and the quality report, in one streaming pass (output.py);
4. metrics.json, with the quality report under "quality" and where the time and memory went
   under "stages" (stages.py; each clip's own under its "stages").

A resume of a finished take with no clip left to generate keeps that take as it is when its
metrics.json records the same output options and the files they made are there (run_folder.py);
otherwise a new take reuses every clip and runs only steps 3 and 4.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog import model_spec
from ..config import MemoryPreset
from ..errors import WanError
from ..models.acceleration import AppliedSpeed, apply_speed, prepare_weights
from ..models.flops import video_tokens
from ..models.guidance import BatchingDecision, GuidanceBatcher, decide_batching
from ..models.loading import (
    apply_memory,
    default_device,
    default_dtype,
    encode_prompts,
    encode_with,
    free_memory,
    image_pipeline,
    load_pipeline,
    load_text_encoder,
    release_text_encoder,
)
from ..models.lora import AppliedLoras, apply_loras, check_experts, has_two_experts
from ..models.memory import ClipSize, Placement, place_models
from ..models.quantization import Weights
from ..models.resolve import ModelLocation, resolve_model
from ..models.speed import DeviceInfo, resolve_speed
from ..parallel import check_parallel_speed, current_group
from ..plan import ClipPlan, GenerationPlan
from ..post.color import ColorStats, color_stats, match_colors
from ..post.quality.checker import BLACK_LEVEL
from .conditioning import as_image, load_init_image, vace_inputs
from .events import ProgressCallback, ProgressEvent, RenderControl
from .gating import MadeFrames, render_checked, reseeded, summarize, write_quality_plot
from .kept import KeptPipeline
from .options import RenderOptions, frame_factors
from .output import write_output
from .previews import LatentPreviewer
from .ranks import rank_options
from .result import VideoResult
from .run_folder import Mode, RunFolder, Take
from .stages import PipelineCallTimer, StageRecorder


class RenderError(WanError, RuntimeError):
    """A clip that cannot be generated (NaN output, out of memory on every preset, ...)."""


@dataclass(frozen=True)
class Revision:
    """New settings for a render that is going on: its plan, options and settings (what a
    `replan` callback returns between clips when the settings changed)."""

    plan: GenerationPlan
    options: RenderOptions
    settings: dict[str, Any] | None = None
    reason: str = "settings changed during the render"


Replan = Callable[[], Revision | None]


def _is_out_of_memory(error: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(error, oom) or (isinstance(error, RuntimeError) and "out of memory" in str(error))


def _latent_frames(num_frames: int) -> int:
    return (num_frames - 1) // 4 + 1


@dataclass
class _Loaded:
    model: str
    memory: MemoryPreset
    pipe: Any
    previewer: LatentPreviewer | None
    speed: AppliedSpeed
    loras: AppliedLoras
    batching: BatchingDecision
    batcher: GuidanceBatcher | None
    image_pipe: Any = None  # TI2V: the same components as an image-to-video pipeline
    made_for: tuple[Any, ...] = ()  # what it was loaded for: flow shift, size, speed settings


@dataclass
class _Session:
    plan: GenerationPlan
    folder: Take
    options: RenderOptions
    callback: ProgressCallback
    control: RenderControl
    device: Any
    dtype: Any
    memory: MemoryPreset
    stages: StageRecorder
    weights: Weights = field(default_factory=Weights)
    placement: Placement | None = None
    locations: dict[str, ModelLocation] = field(default_factory=dict)
    embeddings: dict[str, dict[tuple[str, str], tuple[Any, Any]]] = field(default_factory=dict)
    loaded: _Loaded | None = None
    device_info: DeviceInfo | None = None
    reference: tuple[str, ColorStats] | None = None  # the first clip's fingerprint and colours
    rendered: set[str] = field(default_factory=set)  # fingerprints of the clips this session rendered
    seconds_per_step: float | None = None
    frames_done: int = 0
    clip_now: int = 0  # the clip being (or last) worked on: events without a clip keep it
    clip_stages: StageRecorder | None = None  # the stages of the clip being generated
    kept: KeptPipeline | None = None  # where the pipeline goes after the render (kept.py)

    # -- events ---------------------------------------------------------------------------------

    def emit(self, kind: str, clip: ClipPlan | None = None, **values: Any) -> None:
        """Report progress; events never go back (a clip's index, its step, frames done)."""
        if clip is not None:
            self.clip_now = clip.index
        if kind in ("writing", "done"):  # every clip is done: the output stage comes last
            self.clip_now = len(self.plan.clips) - 1
            values.setdefault("step", self.plan.steps)
        event = ProgressEvent(
            kind=kind,  # type: ignore[arg-type]
            clip=self.clip_now,
            clips=len(self.plan.clips),
            steps=self.plan.steps,
            frames_total=self.plan.model_frames,
            frames_done=self.frames_done,
            **values,
        )
        self.callback(event)

    def eta(self, clip: ClipPlan, step: int) -> float | None:
        """Seconds left: this clip's remaining steps, then the later clips scaled by their size."""
        if self.seconds_per_step is None:
            return None
        per_frame = self.seconds_per_step / _latent_frames(clip.num_frames)
        later = sum(_latent_frames(c.num_frames) for c in self.plan.clips[clip.index + 1 :])
        remaining = (self.plan.steps - step) * self.seconds_per_step + later * self.plan.steps * per_frame
        return remaining

    # -- models -----------------------------------------------------------------------------------

    def made_for(self, model: str) -> tuple[Any, ...]:
        """What a loaded pipeline of `model` depends on besides its model (new settings that
        change it load the model again): the scheduler's shift and steps, the size, the LoRAs
        (each file with the weights its clips give it: one weight is fused, several are an
        adapter), speed and weights settings, and the largest clip (speed presets are fitted to it)."""
        plan = self.plan
        clips = [clip for clip in plan.clips if clip.model == model]
        loras = tuple(
            (lora.file, lora.expert, tuple(sorted({float(clip.loras[i].weight) for clip in clips})))
            for i, lora in enumerate(clips[0].loras if clips else ())
        )
        size = (plan.render_width, plan.render_height, max((c.num_frames for c in clips), default=0))
        speed = (self.options.speed, self.options.batch_guidance, plan.guidance_scale > 1)  # batching
        return (plan.flow_shift, plan.steps, plan.timesteps, size, loras, speed, self.weights)

    def where(self, model: str) -> tuple[Any, ...]:
        """Where a pipeline of `model` is loaded from and to (what a kept one must share)."""
        return (str(self.locations[model].path), str(self.device), str(self.dtype))

    def pipeline(self, clip: ClipPlan) -> _Loaded:
        """The loaded pipeline for the clip's model: the one loaded already (or kept from an
        earlier render) when it was loaded the same way, else loaded now; prompts it has not
        encoded are encoded with the text encoder alone."""
        if self.loaded is None and self.kept is not None and current_group() is None:
            if clip.model not in self.locations:
                self.locations[clip.model] = self.resolve(clip.model)
            taken = self.kept.take(self.where(clip.model))
            if taken is not None:
                self.loaded = taken[0]
                self.embeddings.setdefault(taken[0].model, {}).update(taken[1])
        loaded = self.loaded
        if (
            loaded is not None
            and loaded.model == clip.model
            and loaded.memory == self.memory
            and loaded.made_for == self.made_for(clip.model)
        ):
            self.encode_missing(loaded)
            if self.options.preview_every > 0 and loaded.previewer is None:
                loaded.previewer = LatentPreviewer.fit(loaded.pipe.vae, loaded.pipe.vae_scale_factor_spatial)
            return loaded
        self.unload()
        return self.load(clip.model, self.memory)

    def missing_prompts(self, model: str) -> list[tuple[str, str]]:
        """The prompt pairs of the clips of `model` still to render that are not encoded yet."""
        encoded = self.embeddings.setdefault(model, {})
        pairs = [
            (c.prompt, c.negative_prompt)
            for c in self.plan.clips
            if c.model == model and not self.folder.is_finished(c)  # reused clips need no prompts
        ]
        return [pair for pair in dict.fromkeys(pairs) if pair not in encoded]

    def encode_missing(self, loaded: _Loaded) -> None:
        """Encode the prompts a loaded pipeline has not seen, with its text encoder loaded alone."""
        missing = self.missing_prompts(loaded.model)
        if not missing:
            return
        self.stages.start("text_encoding")
        self.emit("encoding", message=f"encoding {len(missing)} new prompt(s)")
        encoder = load_text_encoder(self.locations[loaded.model], dtype=self.dtype)
        self.embeddings[loaded.model].update(
            encode_with(loaded.pipe, encoder, missing, device=self.device, on_cpu=loaded.memory.encode_on_cpu)
        )
        del encoder
        self.stages.stop()

    def resolve(self, model: str) -> ModelLocation:
        """Where a model is (ModelNotFoundError names every place looked at)."""
        return resolve_model(
            model,
            models_dir=Path(self.options.models_dir) if self.options.models_dir else None,
            allow_download=self.options.allow_download,
        )

    def load(self, model: str, memory: MemoryPreset) -> _Loaded:
        self.stages.start("load")
        if model not in self.locations:
            self.locations[model] = self.resolve(model)
        location = self.locations[model]
        self.device_info = self.device_info or DeviceInfo.probe(self.device)
        spec = location.spec
        speed = resolve_speed(
            self.options.speed,
            self.device_info,
            offload=memory.offload,
            kind=spec.kind,
            experts=spec.experts,
            weights=self.weights.format,
        )
        self.emit(
            "loading",
            message=f"loading {model} from {location.path} ({memory.name} memory preset, "
            f"{self.weights.format} weights, {speed.preset} speed preset)",
        )
        encoded = self.embeddings.setdefault(model, {})
        missing = self.missing_prompts(model)
        pipe = load_pipeline(
            location,
            dtype=self.dtype,
            flow_shift=self.plan.flow_shift,
            text_encoder=bool(missing),
            weights=self.weights,
        )
        if missing:
            self.emit("encoding", message=f"encoding {len(missing)} prompt(s)")
            self.stages.start("text_encoding")
            encoded.update(encode_prompts(pipe, missing, device=self.device, on_cpu=memory.encode_on_cpu))
            self.stages.start("load")
        release_text_encoder(pipe)
        previewer = None
        if self.options.preview_every > 0:
            previewer = LatentPreviewer.fit(pipe.vae, pipe.vae_scale_factor_spatial)
        clips = [c for c in self.plan.clips if c.model == model]
        loras = apply_loras(pipe, clips, model=model)
        if self.plan.timesteps:
            from ..models.schedulers import use_fixed_steps

            use_fixed_steps(pipe, self.plan.timesteps, self.plan.flow_shift)
        prepare_weights(pipe, speed, self.dtype, self.weights)
        apply_memory(pipe, memory, self.device)
        height, width = self.plan.render_height, self.plan.render_width
        tokens = max(video_tokens(pipe.transformer.config, c.num_frames, height, width) for c in clips)
        applied = apply_speed(pipe, speed, self.device, tokens=tokens, steps=self.plan.steps)
        batching = decide_batching(
            memory, self.options.batch_guidance, cache=speed.cache, guidance=self.plan.guidance_scale
        )
        batcher = GuidanceBatcher(pipe) if batching.enabled else None
        group = current_group()
        if group is not None:  # one render over several processes (wan.parallel)
            check_parallel_speed(speed.cache)
            batcher = group.prepare(
                pipe, tokens=tokens, guidance=self.plan.guidance_scale > 1, batcher=batcher
            )
        image_pipe = image_pipeline(pipe) if spec.kind == "ti2v" else None
        made_for = self.made_for(model)
        self.loaded = _Loaded(
            model, memory, pipe, previewer, applied, loras, batching, batcher, image_pipe, made_for
        )
        self.stages.stop()
        return self.loaded

    def placement_note(self) -> str:
        """How the models were placed (metrics.json's `placement`)."""
        placement = self.placement
        if placement is None:
            return f"{self.weights.format} + {self.memory.name}"
        return placement.reason or f"{placement.weights} + {placement.preset.name}"

    def unload(self) -> None:
        if self.loaded is not None:
            self.loaded = None
            free_memory()

    def finish(self) -> None:
        """At the end of a render that went well: give the pipeline to the keeper, or let it go."""
        loaded = self.loaded
        if loaded is None or self.kept is None or current_group() is not None:
            self.unload()
            return
        self.loaded = None
        self.kept.keep(loaded, self.where(loaded.model), self.embeddings.get(loaded.model, {}))

    # -- one clip ---------------------------------------------------------------------------------

    def conditioning(self, clip: ClipPlan) -> dict[str, Any]:
        """The pipeline arguments that condition the clip."""
        kind = model_spec(clip.model).kind
        if clip.conditioning == "init_image":
            kept = [load_init_image(self.plan.init_image, self.plan.render_width, self.plan.render_height)]
        elif clip.conditioning == "previous_clip":
            start = clip.model_start_frame
            kept = list(self.folder.read_model_frames(range(start - clip.overlap_frames, start)))
        else:
            kept = []
        if kind == "vace":
            video, mask = vace_inputs(kept, clip.num_frames)
            return {"video": video, "mask": mask} if video is not None else {}
        if kind == "i2v" or (kind == "ti2v" and kept):
            return {"image": as_image(kept[-1])}
        return {}

    def denoise(self, clip: ClipPlan, loaded: _Loaded, conditioning: dict[str, Any]) -> np.ndarray:
        """Run the pipeline for one clip; returns its frames as float RGB in [0, 1]."""
        import torch

        from ..models.schedulers import seed_scheduler_noise

        pipe = loaded.image_pipe if "image" in conditioning and loaded.image_pipe is not None else loaded.pipe
        positive, negative = self.embeddings[clip.model][(clip.prompt, clip.negative_prompt)]
        if self.plan.guidance_scale_2 is not None and pipe.config.boundary_ratio is not None:
            conditioning = {**conditioning, "guidance_scale_2": self.plan.guidance_scale_2}
        device = pipe._execution_device
        state: dict[str, Any] = {"started": time.perf_counter(), "previous": None, "previous_sigma": None}
        transformers = [pipe.transformer, getattr(pipe, "transformer_2", None)]
        timer = PipelineCallTimer(
            self.clip_stages or StageRecorder(self.device), transformers, self.plan.steps
        )

        def on_step(_pipe: Any, step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            timer.step_done(step)
            self.control.checkpoint()
            now = time.perf_counter()
            self.seconds_per_step = (now - state["started"]) / (step + 1)
            self.emit(
                "step",
                clip,
                step=step + 1,
                seconds_per_step=self.seconds_per_step,
                eta_seconds=self.eta(clip, step + 1),
            )
            every = self.options.preview_every
            latents = tensors.get("latents")
            sigmas = getattr(pipe.scheduler, "sigmas", None)
            sigma = float(sigmas[step + 1]) if sigmas is not None and step + 1 < len(sigmas) else 0.0
            if loaded.previewer is not None and latents is not None and every and (step + 1) % every == 0:
                image = loaded.previewer.preview(latents, state["previous"], sigma, state["previous_sigma"])
                self.folder.write_preview("latest.png", image)
                self.emit("preview", clip, step=step + 1, preview=image)
            if latents is not None:
                state["previous"], state["previous_sigma"] = latents.detach().clone(), sigma
            return {}

        generator = torch.Generator(device="cpu").manual_seed(clip.seed)
        loaded.loras.before_clip(clip)
        seed_scheduler_noise(pipe, clip.seed)
        batched = loaded.batcher.armed(negative) if loaded.batcher else contextlib.nullcontext()
        with loaded.speed.running(self.device), batched, timer:
            output = pipe(
                prompt_embeds=positive.to(device),
                negative_prompt_embeds=negative.to(device),
                height=self.plan.render_height,
                width=self.plan.render_width,
                num_frames=clip.num_frames,
                num_inference_steps=self.plan.steps,
                guidance_scale=self.plan.guidance_scale,
                generator=generator,
                output_type="np",
                callback_on_step_end=on_step,
                callback_on_step_end_tensor_inputs=["latents"],
                **conditioning,
            )
        return np.asarray(output.frames[0], dtype=np.float32)

    def generate(self, clip: ClipPlan) -> dict[str, Any]:
        """Generate, check, correct and store one clip (through the quality gate, gating.py);
        returns its metadata."""
        self.emit("clip_start", clip, message=clip.prompt)
        self.clip_stages = StageRecorder(self.device)
        made, checks = render_checked(self, clip)
        if made.seed != clip.seed:  # the gate kept a re-roll: the render goes on in a take of that seed
            self.revise(
                reseeded(self.plan, self.options, self.folder.settings, clip, made.seed, checks["gate"])
            )
            clip = self.plan.clips[clip.index]
        self.stages.start("saving_clips")
        metadata = {
            "index": clip.index,
            "model": clip.model,
            "memory_preset": made.loaded.memory.name,
            "weights": self.weights.format,
            "speed": made.speed,
            "loras": made.loaded.loras.record(clip),
            "attempts": made.attempts,
            "seconds": round(made.seconds, 4),
            "seconds_per_frame": round(made.seconds / clip.num_frames, 4),
            "peak_memory_bytes": self.clip_stages.peak(),
            "black_frames": made.black,
            "warnings": [f"{made.black} black frame(s)"] if made.black else [],
            "guidance_batching": made.loaded.batching.to_dict(),
            "stages": self.clip_stages.to_dict(),
            **checks,
        }
        new = made.new
        self.folder.write_clip(clip, new, metadata)
        self.rendered.add(self.folder.fingerprints[clip.index])
        self.stages.stop()
        self.stages.absorb(self.clip_stages)
        self.frames_done += clip.new_frames
        last = self.folder.write_preview(f"clip_{clip.index:04d}.png", new[-1])
        self.emit("clip_done", clip, message=str(last), preview=new[-1])
        return metadata

    def make_frames(self, clip: ClipPlan) -> MadeFrames:
        """One render of a clip (with its seed): its new frames, colour-corrected, as uint8 RGB."""
        frames, loaded, attempts, seconds = self.denoise_with_retries(clip)
        speed = loaded.speed.record()
        loaded.speed.after_clip()
        if np.isnan(frames).any():
            raise RenderError(
                f"clip {clip.index} produced NaN values; this usually means the model ran in float16 and "
                "overflowed, or its weights are damaged"
            )
        pixels = np.rint(np.clip(frames, 0.0, 1.0) * 255.0).astype(np.uint8)
        new = pixels[clip.overlap_frames : clip.overlap_frames + clip.new_frames]
        black = int(np.count_nonzero(frames.reshape(len(frames), -1).mean(axis=1) < BLACK_LEVEL))
        new = self.coherent_colors(clip, new)
        return MadeFrames(clip.seed, new, black, loaded, attempts, seconds, speed)

    def denoise_with_retries(self, clip: ClipPlan) -> tuple[np.ndarray, _Loaded, int, float]:
        """(frames, the pipeline that made them, attempts, seconds): an out-of-memory error
        moves to the next memory preset and tries again, up to `max_attempts`."""
        conditioning = self.conditioning(clip)
        attempts = 0
        while True:
            attempts += 1
            loaded = self.pipeline(clip)
            started = time.perf_counter()
            try:
                frames = self.denoise(clip, loaded, conditioning)
                return frames, loaded, attempts, time.perf_counter() - started
            except Exception as error:
                if not _is_out_of_memory(error):
                    raise
                stronger = loaded.memory.more_aggressive()
                if stronger is None or attempts >= self.options.max_attempts:
                    raise RenderError(
                        f"clip {clip.index} ran out of memory with the {loaded.memory.name} preset, the last "
                        "one; lower the resolution or clip_frames"
                    ) from error
                self.emit(
                    "retry",
                    clip,
                    message=f"out of memory with {loaded.memory.name}; retrying with {stronger.name}",
                )
                self.unload()
                self.memory = stronger
                self.load(clip.model, stronger)

    def coherent_colors(self, clip: ClipPlan, frames: np.ndarray) -> np.ndarray:
        """The clip's new frames with the first clip's colour statistics (when asked for)."""
        if not self.options.color_coherence or clip.index == 0:
            return frames
        first = self.folder.fingerprints[0]
        if self.reference is None or self.reference[0] != first:
            self.reference = (first, color_stats(self.folder.clip_frames(0)))
        return match_colors(frames, self.reference[1])

    # -- the clips in order -----------------------------------------------------------------------

    def next_clip(self) -> ClipPlan | None:
        """The first clip of the take that is not on disk (None when every one is)."""
        for clip in self.plan.clips:
            if not self.folder.is_finished(clip):
                return clip
        return None

    def revise(self, revision: Revision) -> None:
        """Go on with new settings: a new take (based on this one, reusing every clip they leave
        unchanged); the pipeline is loaded again when what it was loaded for changed. The weights
        format stays while the weights settings do (`auto` keeps what it picked); new weights or
        memory settings place the models again."""
        revision = replace(revision, options=_for_this_rank(revision.options))
        options = revision.options
        asked = (options.weights, options.weights_files)
        if (
            asked != (self.options.weights, self.options.weights_files)
            or options.memory != self.options.memory
        ):
            for model in dict.fromkeys(clip.model for clip in revision.plan.clips):
                self.locations.setdefault(model, self.resolve(model))
            if asked == (self.options.weights, self.options.weights_files):
                options = replace(options, weights=self.weights.format, weights_files=self.weights.files)
            placement, self.weights = _placement(revision.plan, options, self.locations, self.device)
            self.memory, self.placement = placement.preset, placement
        take = self.folder.run.new_take(
            revision.plan,
            revision.settings,
            _factors(revision.options, self.weights),
            reason=revision.reason,
            based_on=self.folder.number,
        )
        self.plan, self.options, self.folder = revision.plan, revision.options, take
        self.frames_done = sum(c.new_frames for c in self.plan.clips if take.is_finished(c))
        self.emit("loading", message=f"take {take.number} goes on: {revision.reason}")


def _for_this_rank(options: RenderOptions) -> RenderOptions:
    """In a render over several processes, the options of this process's rank (wan.render.ranks)."""
    group = current_group()
    return options if group is None else rank_options(group, options)


def _factors(options: RenderOptions, weights: Weights) -> dict[str, Any]:
    """The frame factors of a render (wan.render.options), with the weights format it loads:
    what `auto` picked on this device, not `auto`."""
    return frame_factors(replace(options, weights=weights.format, weights_files=weights.files))


def _placement(
    plan: GenerationPlan, options: RenderOptions, locations: dict[str, ModelLocation], device: Any
) -> tuple[Any, Weights]:
    """(memory placement, weights) of the plan's models on the device; a LoRA for an expert a
    model lacks is an error (both before any file is written)."""
    placement, weights = place_models(
        [locations[model].spec for model in dict.fromkeys(clip.model for clip in plan.clips)],
        memory=options.memory,
        weights=options.weights,
        files=options.weights_files,
        device=device,
        clip=ClipSize(max(clip.num_frames for clip in plan.clips), plan.render_height, plan.render_width),
    )
    for model in dict.fromkeys(clip.model for clip in plan.clips):
        uses = [(lora.file, lora.expert) for clip in plan.clips if clip.model == model for lora in clip.loras]
        check_experts(uses, has_two_experts(locations[model].path), model)
    return placement, weights


def torch_device(name: str | None) -> Any:
    """The torch device to render on: `name`, or CUDA when available, else the CPU. A device this
    machine does not have is a RenderError that says so (before anything is written)."""
    import torch

    if not name:
        return default_device()
    try:
        device = torch.device(name)
    except RuntimeError:
        raise RenderError(f"--device: '{name}' is not a torch device (cpu, cuda, cuda:1, mps)") from None
    present = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available(),
    }.get(device.type, False)
    if device.type == "cuda" and present and device.index is not None:
        present = device.index < torch.cuda.device_count()
    if not present:
        raise RenderError(
            f"device '{name}' is not available on this machine; use cpu, or leave the device unset"
        )
    return device


def render(
    plan: GenerationPlan,
    run_dir: str | Path,
    *,
    options: RenderOptions | None = None,
    callback: ProgressCallback | None = None,
    control: RenderControl | None = None,
    resume: bool = False,
    settings: dict[str, Any] | None = None,
    mode: Mode | None = None,
    replan: Replan | None = None,
    kept: KeptPipeline | None = None,
) -> VideoResult:
    """Generate every clip of `plan` into `run_dir`, then the video (see the module doc).
    `mode`: new (default), resume (`resume=True`) or revise (run_folder.py says what each does);
    `replan` is asked between clips for new settings (a Revision) or None; `kept`: where the
    pipeline is taken from when it is loaded already, and left at the end (kept.py)."""
    options = _for_this_rank(options or RenderOptions())
    mode = mode or ("resume" if resume else "new")
    started = time.perf_counter()
    device = torch_device(options.device)
    # 1. the take, once the models are known to be there and their weights format can run here
    #    (nothing is left behind otherwise)
    models_dir = Path(options.models_dir) if options.models_dir else None
    locations = {
        model: resolve_model(model, models_dir=models_dir, allow_download=options.allow_download)
        for model in dict.fromkeys(clip.model for clip in plan.clips)
    }
    placement, weights = _placement(plan, options, locations, device)
    take = RunFolder(run_dir).start(
        plan, settings, mode=mode, factors=_factors(options, weights), output=options.output_record()
    )
    session = _Session(
        plan=plan,
        folder=take,
        options=options,
        callback=callback or (lambda event: None),
        control=control or RenderControl(),
        device=device,
        dtype=default_dtype(device),
        memory=placement.preset,
        weights=weights,
        placement=placement,
        stages=StageRecorder(device),
        locations=locations,
        kept=kept,
    )
    # 2. the clips, in order; between clips, new settings go on in a new take
    session.frames_done = sum(c.new_frames for c in plan.clips if take.is_finished(c))
    session.clip_now = min(take.first_unfinished(), len(plan.clips) - 1)
    try:
        while True:
            revision = replan() if replan is not None else None
            if revision is not None:
                session.revise(revision)
            clip = session.next_clip()
            if clip is None:
                break
            session.generate(clip)
    except BaseException:
        session.unload()
        raise
    session.finish()
    plan, take, options = session.plan, session.folder, session.options
    if take.finished:  # a resume of a finished take whose output is current (run_folder.py)
        kept = take.current_output(options.output_record())
        if kept is not None:
            session.emit("done", message=f"nothing changed; kept {take.root}")
            video = take.video_path if options.write_video else None
            frames_dir = take.frames_dir if options.save_frames else None
            return VideoResult(take.run.root, video, frames_dir, plan, kept, 0, take.number)
        # its files went meanwhile: a take is never written twice
        take = take.run.new_take(
            plan, settings, _factors(options, session.weights), reason="resume", based_on=take.number
        )
    # 3. the output
    clock = session.stages.begin_stream("encoding")
    output = write_output(
        plan,
        take,
        interpolation=options.interpolation,
        save_frames=options.save_frames,
        write_video=options.write_video,
        quality_checks=options.quality_checks,
        crf=options.crf,
        models_dir=options.models_dir,
        device=options.device,
        emit=lambda message: session.emit("writing", message=message),
        clock=clock,
        upscale=options.upscale,
        allow_download=options.allow_download,
    )
    session.stages.end_stream(clock)
    # 4. metrics
    clips = [take.clip_metadata(c.index) for c in plan.clips]
    wall = time.perf_counter() - started
    metrics = {
        "device": str(device),
        "dtype": str(session.dtype).removeprefix("torch."),
        "speed_preset": options.speed.preset,
        "take": take.number,
        "based_on": take.based_on,
        "placement": session.placement_note(),
        "model_frames": plan.model_frames,
        "output_frames": plan.output_frames,
        "generation_seconds": round(sum(c["seconds"] for c in clips if not c["reused"]), 4),
        "clips_reused": sum(c["reused"] for c in clips),
        "wall_seconds_this_session": round(wall, 4),
        "seconds_per_output_frame": round(wall / plan.output_frames, 4),
        "stages": session.stages.to_dict(),
        "stage_memory": session.stages.memory.kind,
        "clips": clips,
        "interpolation": output.interpolation,
        "output": options.output_record(),
    }
    if output.upscale is not None:
        metrics["upscale"] = output.upscale
    checked = summarize(clips, options.quality)
    if output.quality is not None or checked:
        metrics["quality"] = (output.quality.to_dict() if output.quality is not None else {}) | checked
    if current_group() is not None:
        metrics["parallel"] = current_group().to_dict()
    take.write_metrics(metrics)
    write_quality_plot(metrics, plan.to_dict(), take.root / "quality.png")
    session.emit("done", message=str(output.video or output.frames_dir or take.root))
    rendered = tuple(i for i, fingerprint in enumerate(take.fingerprints) if fingerprint in session.rendered)
    return VideoResult(
        take.run.root, output.video, output.frames_dir, plan, metrics, len(rendered), take.number, rendered
    )
