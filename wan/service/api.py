"""WanAPI: the one engine behind every front end (CLI, REST API, WebUI tab, Python users).

Planning, movement analysis and the model listing need neither torch nor a GPU; enhancement
loads a language model (or asks a server); generation loads a Wan model. Settings may be given
as a WanConfig or as a settings dict (ours or a Deforum settings file's contents): dicts are
validated with wan.config, whose SettingsError names every bad field.

Generating is one call for everyone, `generate`: it plans (enhancing the prompts when the
settings say so, or reusing the prompts of the run it resumes), picks the run folder and renders.
A front end that shows the plan first passes the plan it made with `plan_run`.

Iterating: settings with `from_run` re-render into that run folder as a new take, reusing every
clip whose frames would not change (its seed and enhanced prompts are kept where the prompts did
not change); `compare_with_run` says beforehand which clips are reused and which rendered.
"""

from __future__ import annotations

import datetime
import platform
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..config import (
    DEFAULT_OUTPUT_DIR,
    EnhancementOptions,
    FieldError,
    SettingsError,
    WanConfig,
    config_from_dict,
    default_lora_folders,
    default_models_dir,
    list_loras,
    lora_search,
    preset_for_vram,
)
from ..config.upscale import list_upscalers, upscaler_folders
from ..movement import MovementAnalysis
from ..plan import (
    GenerationPlan,
    adopted_prompts,
    create_plan,
    enhance_plan,
    movement_by_prompt,
)
from ..prompts import EnhancedPrompt, EnhancerError, PromptContext, PromptEnhancementEngine
from ..render.options import config_factors
from ..render.result import VideoResult
from ..render.run_folder import ClipReuse, RunFolder


def as_config(
    settings: WanConfig | Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> WanConfig:
    """A WanConfig from a config or a settings dict (SettingsError names every bad field);
    `overrides` are settings the user gave explicitly, which win over the dict's."""
    if isinstance(settings, WanConfig) and not overrides:
        return settings
    data = settings.to_dict() if isinstance(settings, WanConfig) else dict(settings)
    return config_from_dict(data, overrides)[0]


def package_version(name: str) -> str | None:
    """The installed version of a distribution, or None (not installed, or a broken install)."""
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # a broken install raises more than PackageNotFoundError
        return None


def check_run_folder(folder: str | Path) -> None:
    """SettingsError (on from_run) when `folder` holds no run."""
    if not RunFolder(folder).is_run():
        message = "is not a run folder (it has no takes/ and no plan.json); name the folder of an earlier run"
        raise SettingsError([FieldError("from_run", str(folder), message)])


def with_preset(gpu: Mapping[str, Any]) -> dict[str, Any]:
    """A GPU's report with the memory preset `auto` picks for it (older workers leave it out)."""
    return {"memory_preset": preset_for_vram(gpu.get("vram_gb")).name} | dict(gpu)


def new_run_dir(parent: Path) -> Path:
    """A run folder inside `parent` named by the time, never one that exists already."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate, n = parent / stamp, 1
    while candidate.exists():
        n += 1
        candidate = parent / f"{stamp}-{n}"
    return candidate


class WanAPI:
    """Plan, analyse, enhance and generate; see the module doc."""

    def __init__(
        self,
        *,
        output_dir: str | Path | None = None,
        models_dir: str | Path | None = None,
        allow_download: bool = False,
        device: str | None = None,
        lora_dirs: Sequence[str | Path] = (),
        upscaler_dirs: Sequence[str | Path] = (),
        keep_models: bool = False,
    ) -> None:
        """`keep_models`: the pipeline of the last render stays loaded, and the next render of the
        same model loaded the same way takes it (release_models lets it go; wan.render.kept)."""
        self.output_dir = Path(output_dir) if output_dir is not None else DEFAULT_OUTPUT_DIR
        self.models_dir = Path(models_dir) if models_dir is not None else None
        self.allow_download = allow_download
        self.device = device
        self.lora_dirs = tuple(Path(folder) for folder in lora_dirs)
        self.upscaler_dirs = tuple(Path(folder) for folder in upscaler_dirs)
        self.keep_models = keep_models
        self._kept: Any = None

    def kept_pipeline(self) -> Any:
        """The wan.render.KeptPipeline renders take their pipeline from (None without keep_models)."""
        if self.keep_models and self._kept is None:
            from ..render.kept import KeptPipeline

            self._kept = KeptPipeline()
        return self._kept

    def loaded_model(self) -> str | None:
        """The model whose pipeline is kept loaded now (None: none is)."""
        return self._kept.model if self._kept is not None else None

    def release_models(self) -> bool:
        """Let a kept pipeline go and give its memory back; whether one was kept."""
        return self._kept.release() if self._kept is not None else False

    def lora_folders(self) -> tuple[Path, ...]:
        """Where LoRA names are looked up: `<models folder>/loras`, then `lora_dirs` (the WebUI's)."""
        return default_lora_folders(self.models_dir, self.lora_dirs)

    def upscaler_folders(self) -> tuple[Path, ...]:
        """Where upscaler files are offered from: `<models folder>/upscalers`, then `upscaler_dirs`
        (the WebUI's models/ESRGAN, RealESRGAN, SwinIR)."""
        return upscaler_folders(self.models_dir or default_models_dir(), self.upscaler_dirs)

    def list_upscalers(self) -> list[str]:
        """The upscaler files in the upscaler folders (what the tab offers for upscale_model)."""
        return list_upscalers(self.upscaler_folders())

    def list_loras(self) -> list[dict[str, str]]:
        """The LoRA files in the LoRA folders, by the name settings may use."""
        return list_loras(self.lora_folders())

    def config(
        self, settings: WanConfig | Mapping[str, Any], overrides: Mapping[str, Any] | None = None
    ) -> WanConfig:
        """as_config, with LoRA names looked up in this API's LoRA folders."""
        with lora_search(self.lora_folders()):
            return as_config(settings, overrides)

    # -- no GPU ---------------------------------------------------------------------------------
    def create_generation_plan(
        self, config: WanConfig | Mapping[str, Any], *, seed: int | None = None
    ) -> GenerationPlan:
        """Cut the animation into clips (no torch, milliseconds)."""
        return create_plan(self.config(config), seed=seed)

    def analyze_movement(self, config: WanConfig | Mapping[str, Any]) -> list[MovementAnalysis]:
        """The camera movement of each prompt's frames, from settings with camera schedules."""
        return movement_by_prompt(self.config(config))

    def list_models(self) -> dict[str, Any]:
        """The Wan and enhancer models this tool knows, and which are on this machine."""
        from ..catalog import MODELS
        from ..models.memory import memory_table
        from ..models.resolve import default_models_dir, is_present
        from ..prompts.models import ENHANCER_MODELS, enhancer_present

        models_dir = self.models_dir or default_models_dir()
        video = []
        for spec in MODELS.values():
            where = is_present(spec, models_dir)
            weights = spec.weights_gb("bf16")
            video.append(
                {
                    "id": spec.id,
                    "hub_id": spec.hub_id,
                    "kind": spec.kind,
                    "description": spec.description,
                    "present": str(where) if where else None,
                    "tiny": spec.tiny,
                    "transformer_gb_bf16": round(weights["transformer"], 2) if weights else None,
                    "download_gb": round(sum(weights.values()), 2) if weights else None,
                    "experts": spec.experts,
                    "fps": spec.native_fps,
                    "max_frames": spec.max_frames,
                    "sizes": [f"{w}x{h}" for w, h in spec.sizes],
                    "size_multiple": spec.size_multiple,
                    "defaults": {
                        "steps": spec.default_steps,
                        "guidance_scale": spec.default_guidance,
                        "guidance_scale_2": spec.default_guidance_2,
                        "flow_shift": spec.flow_shift,
                    },
                    "memory_gb": memory_table(spec) if weights else None,
                }
            )
        enhancers = [
            {
                "id": model.id,
                "hub_id": model.hub_id,
                "params_billion": model.params_billion,
                "download_gb": round(model.weights_gb, 2),
                "vram_gb_bf16": round(model.vram_gb, 2),
                "present": enhancer_present(model, models_dir),
                "tiny": model.tiny,
            }
            for model in ENHANCER_MODELS.values()
        ]
        return {
            "models_dir": str(models_dir),
            "models": video,
            "enhancers": enhancers,
            "lora_folders": [str(folder) for folder in self.lora_folders()],
            "loras": self.list_loras(),
        }

    def system_info(self, gpus: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
        """Python, library versions, the GPUs (`gpus`, as workers report them; probed here when
        None, which imports torch) and the memory preset `auto` picks for the first GPU."""
        if gpus is None:
            gpus = probe_gpus()
        vram = gpus[0]["vram_gb"] if gpus else None
        return {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "versions": {
                name: package_version(name)
                for name in ("torch", "diffusers", "transformers", "gradio", "fastapi")
            },
            "gpu": with_preset(gpus[0]) if gpus else None,
            "gpus": [with_preset(gpu) for gpu in gpus],
            "suggested_memory_preset": preset_for_vram(vram).name,
        }

    # -- models ---------------------------------------------------------------------------------
    def enhancer(
        self,
        options: EnhancementOptions | None = None,
        *,
        style_strength: float = 1.0,
        api_key: str | None = None,
        cache: bool = True,
        public_only: bool = False,
        deadline: float | None = None,
    ) -> PromptEnhancementEngine:
        """A prompt enhancer with this API's models folder and device; use it with `with`.
        `public_only` and `deadline`: see PromptEnhancementEngine."""
        return PromptEnhancementEngine(
            options or EnhancementOptions(),
            style_strength=style_strength,
            api_key=api_key,
            public_only=public_only,
            deadline=deadline,
            cache=None if cache else False,
            models_dir=self.models_dir,
            allow_download=self.allow_download,
            device=self.device,
        )

    def enhance_prompts(
        self,
        prompts: Sequence[str],
        contexts: Sequence[PromptContext] | None = None,
        options: EnhancementOptions | None = None,
        *,
        style_strength: float = 1.0,
        api_key: str | None = None,
    ) -> list[EnhancedPrompt]:
        """Enhance prompts in one batch; the model is unloaded afterwards."""
        with self.enhancer(options, style_strength=style_strength, api_key=api_key) as engine:
            return engine.enhance_prompts(prompts, contexts)

    def enhance_plan(
        self,
        plan: GenerationPlan,
        config: WanConfig,
        *,
        api_key: str | None = None,
        cache: bool = True,
        public_only: bool = False,
    ) -> tuple[GenerationPlan, list[EnhancedPrompt]]:
        """The plan with each clip's prompt enhanced as `config`'s enhance_* settings say (the
        model is unloaded before this returns). EnhancerError when no prompt could be enhanced
        because the enhancer failed (server down, model missing): better before any GPU time."""
        engine = self.enhancer(
            config.enhancement,
            style_strength=config.style.strength,
            api_key=api_key,
            cache=cache,
            public_only=public_only,
        )
        with engine:
            enhanced, results = enhance_plan(plan, engine, movement_mode=config.movement.mode)
        asked = [r for r in results if r.source != "unchanged"]
        if asked and all(r.error for r in asked):
            raise EnhancerError(asked[0].note.removeprefix("kept the original: "))
        return enhanced, results

    def plan_run(
        self,
        config: WanConfig,
        resume_dir: str | Path | None = None,
        *,
        seed: int | None = None,
        api_key: str | None = None,
        cache: bool = True,
        public_only: bool = False,
    ) -> tuple[GenerationPlan, list[EnhancedPrompt]]:
        """The plan a run follows, and the enhancement's results (empty when none ran). Going on
        from a run folder (`resume_dir`, else the settings' from_run) re-plans with its seed and
        keeps the prompts its newest take used for every clip whose base prompt, style and
        movement are unchanged, so the enhancer is asked only for the others (when
        enhance_enabled); otherwise the plan is made with `seed` and, when enhance_enabled,
        enhanced."""
        if config.from_run:
            check_run_folder(config.from_run)
        stored = (
            RunFolder(resume_dir or config.from_run).newest_plan() if resume_dir or config.from_run else None
        )
        if stored is None:
            plan = self.create_generation_plan(config, seed=seed)
            if not config.enhancement.enabled:
                return plan, []
            return self.enhance_plan(plan, config, api_key=api_key, cache=cache, public_only=public_only)
        plan = self.create_generation_plan(config, seed=stored.seed)
        if not config.enhancement.enabled:
            return plan, []
        plan, missing = adopted_prompts(plan, stored)
        if not missing:
            return plan, []
        part = replace(plan, clips=tuple(plan.clips[index] for index in missing))
        enhanced, results = self.enhance_plan(
            part, config, api_key=api_key, cache=cache, public_only=public_only
        )
        clips = list(plan.clips)
        for clip in enhanced.clips:
            clips[clip.index] = clip
        return replace(plan, clips=tuple(clips)), results

    def revision_plan(self, config: WanConfig, run_dir: str | Path) -> GenerationPlan:
        """The plan a re-render of `config` into `run_dir` follows, without asking the enhancer:
        the run's seed, and its prompts where unchanged (a changed prompt counts as changed)."""
        stored = RunFolder(run_dir).newest_plan()
        plan = self.create_generation_plan(config, seed=stored.seed if stored else None)
        return adopted_prompts(plan, stored)[0] if stored and config.enhancement.enabled else plan

    def compare_with_run(
        self, config: WanConfig | Mapping[str, Any], run_dir: str | Path | None = None
    ) -> tuple[GenerationPlan, list[ClipReuse]]:
        """(the plan, what a re-render into `run_dir` (default: the settings' from_run) does with
        each clip: reused, from which take, or rendered and why). No GPU, no torch."""
        config = as_config(config)
        folder = run_dir or config.from_run
        if not folder:
            raise SettingsError([FieldError("from_run", "", "name the run folder to compare with")])
        check_run_folder(folder)
        plan = self.revision_plan(config, folder)
        run = RunFolder(folder)
        latest = run.latest()
        return plan, run.reuse(plan, config_factors(config, latest.auto_picked() if latest else None))

    def run_dir_for(self, config: WanConfig) -> Path:
        """The run folder of `config`: its from_run; else a new one in its output_dir, else in
        this API's output folder."""
        if config.from_run:
            return Path(config.from_run)
        return new_run_dir(Path(config.output.dir) if config.output.dir else self.output_dir)

    def render_options(self, config: WanConfig, *, write_video: bool = True) -> Any:
        """The RenderOptions of `config` on this API's device and models folder."""
        from ..render import RenderOptions

        return RenderOptions.of(
            config,
            device=self.device,
            models_dir=str(self.models_dir) if self.models_dir else None,
            allow_download=self.allow_download,
            save_frames=config.output.save_frames or not write_video,
            write_video=write_video,
        )

    def revision(self, config: WanConfig, plan: GenerationPlan, *, write_video: bool = True) -> Any:
        """New settings for a render that is going on (a wan.render.Revision)."""
        from ..render import Revision

        return Revision(plan, self.render_options(config, write_video=write_video), config.to_dict())

    def generate(
        self,
        settings: WanConfig | Mapping[str, Any],
        *,
        plan: GenerationPlan | None = None,
        run_dir: str | Path | None = None,
        resume: bool = False,
        seed: int | None = None,
        callback: Any = None,
        control: Any = None,
        write_video: bool = True,
        api_key: str | None = None,
        mode: str | None = None,
        replan: Any = None,
        processes: int = 1,
        process_device: str = "cuda",
    ) -> VideoResult:
        """Render `settings` into a run folder and return where everything is.

        `plan`: the plan `plan_run` made for these settings (otherwise it is made here, enhanced
        when the settings say so). `run_dir`: the run folder (default: see run_dir_for); with
        `resume`, the run folder to continue from its first unfinished clip. `mode` (new, resume,
        revise; wan.render.run_folder) is `revise` for settings with from_run. `callback` receives
        ProgressEvents; `control` (a RenderControl) pauses and cancels; `replan` is asked between
        clips for new settings (a Revision, see `revision`). `processes` > 1: one render over that
        many processes on `process_device` ("cuda": one GPU each; "cpu": gloo, for tests), started
        here (wan.render.parallel_run; new settings between clips are for a render in one process)."""
        from ..render import render

        config = self.config(settings)
        if resume and run_dir is None:
            raise ValueError("resume needs the run folder to continue")
        mode = mode or ("resume" if resume else "revise" if config.from_run else "new")
        if plan is None:
            going_on = run_dir if resume else None
            plan, _ = self.plan_run(config, going_on, seed=seed, api_key=api_key)
        options = self.render_options(config, write_video=write_video)
        target = Path(run_dir) if run_dir is not None else self.run_dir_for(config)
        if processes > 1:
            from ..render.parallel_run import render_in_group

            return render_in_group(
                processes,
                plan,
                target,
                device_type=process_device,
                options=options,
                callback=callback,
                mode=mode,  # type: ignore[arg-type]
                settings=config.to_dict(),
            )
        return render(
            plan,
            target,
            options=options,
            callback=callback,
            control=control,
            mode=mode,  # type: ignore[arg-type]
            replan=replan,
            settings=config.to_dict(),
            kept=self.kept_pipeline(),
        )


def probe_gpus() -> list[dict[str, Any]]:
    """Every CUDA device of this process: name, memory, free memory, compute capability and the
    memory preset `auto` picks for it (imports torch; [] without torch or without a GPU)."""
    from ..models.devices import probe_gpus as probe

    return probe()
