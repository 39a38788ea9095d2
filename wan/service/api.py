"""WanAPI: the one engine behind every front end (CLI, REST API, WebUI tab, Python users).

Planning, movement analysis and the model listing need neither torch nor a GPU; enhancement
loads a language model (or asks a server); generation loads a Wan model. Settings may be given
as a WanConfig or as a settings dict (ours or a Deforum settings file's contents): dicts are
validated with wan.config, whose SettingsError names every bad field.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import WanConfig, config_from_dict
from ..movement import MovementAnalysis, analyze_segments
from ..plan import GenerationPlan, create_plan
from ..prompts import EnhancedPrompt, EnhancementConfig, EnhancerError, PromptContext, PromptEnhancementEngine


@dataclass(frozen=True)
class VideoResult:
    """What a generation produced: where the files are, the plan it followed and its metrics."""

    run_dir: Path
    video: Path | None
    frames_dir: Path | None
    plan: GenerationPlan
    metrics: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (paths as text, the plan left out)."""
        return {
            "run_dir": str(self.run_dir),
            "video": str(self.video) if self.video else None,
            "frames_dir": str(self.frames_dir) if self.frames_dir else None,
            "metrics": self.metrics,
        }


def as_config(settings: WanConfig | Mapping[str, Any]) -> WanConfig:
    """A WanConfig from a config or a settings dict (SettingsError names every bad field)."""
    if isinstance(settings, WanConfig):
        return settings
    return config_from_dict(dict(settings))[0]


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # not installed, or a broken install: the listing says "not installed"
        return None


class WanAPI:
    """Plan, analyse, enhance and generate; see the module doc."""

    def __init__(
        self,
        *,
        output_dir: str | Path | None = None,
        models_dir: str | Path | None = None,
        allow_download: bool = False,
        device: str | None = None,
    ) -> None:
        self.output_dir = Path(output_dir) if output_dir is not None else Path("outputs") / "wan-videos"
        self.models_dir = Path(models_dir) if models_dir is not None else None
        self.allow_download = allow_download
        self.device = device

    # -- no GPU ---------------------------------------------------------------------------------
    def create_generation_plan(
        self, config: WanConfig | Mapping[str, Any], *, seed: int | None = None
    ) -> GenerationPlan:
        """Cut the animation into clips (no torch, milliseconds)."""
        return create_plan(as_config(config), seed=seed)

    def analyze_movement(self, schedules: WanConfig | Mapping[str, Any]) -> list[MovementAnalysis]:
        """The camera movement of each prompt segment, from settings with movement schedules."""
        return analyze_segments(as_config(schedules))

    def list_models(self) -> dict[str, Any]:
        """The Wan and enhancer models this tool knows, and which are on this machine."""
        from ..models import MODELS
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
                    "transformer_gb_bf16": round(weights["transformer"], 2) if weights else None,
                }
            )
        enhancers = [
            {
                "id": model.id,
                "hub_id": model.hub_id,
                "params_billion": model.params_billion,
                "vram_gb_bf16": round(model.vram_gb, 2),
                "present": enhancer_present(model, models_dir),
            }
            for model in ENHANCER_MODELS.values()
            if not model.tiny
        ]
        return {"models_dir": str(models_dir), "models": video, "enhancers": enhancers}

    def system_info(self) -> dict[str, Any]:
        """Python, library versions, the GPU and its memory, and the memory preset `auto` picks."""
        from ..models.memory import MemoryOptimizationConfig

        info: dict[str, Any] = {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "versions": {
                name: _version(name) for name in ("torch", "diffusers", "transformers", "gradio", "fastapi")
            },
            "gpu": None,
        }
        vram = None
        if "torch" in sys.modules or info["versions"]["torch"]:
            try:
                import torch

                if torch.cuda.is_available():
                    properties = torch.cuda.get_device_properties(0)
                    free, total = torch.cuda.mem_get_info()
                    vram = total / 2**30
                    info["gpu"] = {
                        "name": properties.name,
                        "vram_gb": round(vram, 2),
                        "free_gb": round(free / 2**30, 2),
                        "compute_capability": f"{properties.major}.{properties.minor}",
                    }
            except ImportError:
                pass
        info["suggested_memory_preset"] = MemoryOptimizationConfig.optimize_for_system(vram).name
        return info

    # -- models ---------------------------------------------------------------------------------
    def enhancer(
        self, settings: EnhancementConfig | None = None, *, cache: bool = True
    ) -> PromptEnhancementEngine:
        """A prompt enhancer with this API's models folder and device; use it with `with`."""
        return PromptEnhancementEngine(
            settings or EnhancementConfig(),
            cache=None if cache else False,
            models_dir=self.models_dir,
            allow_download=self.allow_download,
            device=self.device,
        )

    def enhance_prompts(
        self,
        prompts: Sequence[str],
        context: Sequence[PromptContext] | None = None,
        settings: EnhancementConfig | None = None,
    ) -> list[EnhancedPrompt]:
        """Enhance prompts in one batch; the model is unloaded afterwards."""
        with self.enhancer(settings) as engine:
            return engine.enhance_prompts(prompts, context)

    def enhance_plan(
        self, plan: GenerationPlan, config: WanConfig, *, api_key: str | None = None, cache: bool = True
    ) -> tuple[GenerationPlan, list[EnhancedPrompt]]:
        """The plan with each clip's prompt enhanced as `config`'s enhance_* settings say (the
        model is unloaded before this returns). EnhancerError when no prompt could be enhanced
        because the enhancer failed (server down, model missing): better before any GPU time."""
        from ..prompts.planning import enhance_plan

        settings = EnhancementConfig.from_options(
            config.enhancement, style_strength=config.style.strength, api_key=api_key
        )
        with self.enhancer(settings, cache=cache) as engine:
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
    ) -> tuple[GenerationPlan, list[EnhancedPrompt]]:
        """The plan a run follows, and the enhancement's results (empty when none ran). Resuming
        `resume_dir` (a run folder with plan.json) re-plans with its seed and keeps the prompts it
        used, so the enhancer is not asked again; otherwise the plan is made with `seed` and, when
        enhance_enabled, enhanced."""
        from ..prompts.planning import adopt_prompts
        from ..render import RunFolder

        if resume_dir is not None and RunFolder(resume_dir).plan_path.is_file():
            stored = RunFolder(resume_dir).stored_plan()
            plan = self.create_generation_plan(config, seed=stored.seed)
            return (adopt_prompts(plan, stored) if config.enhancement.enabled else plan), []
        plan = self.create_generation_plan(config, seed=seed)
        if not config.enhancement.enabled:
            return plan, []
        return self.enhance_plan(plan, config, api_key=api_key, cache=cache)

    def render_options(self, config: WanConfig, **overrides: Any) -> Any:
        """The RenderOptions of a config on this API's models folder and device."""
        from ..models.speed import SpeedConfig
        from ..post.interpolation import InterpolationConfig
        from ..render import RenderOptions

        values = {
            "device": self.device,
            "memory": config.memory.preset,
            "speed": SpeedConfig.from_options(config.speed),
            "models_dir": str(self.models_dir) if self.models_dir else None,
            "allow_download": self.allow_download,
            "color_coherence": config.output.color_coherence,
            "save_frames": config.output.save_frames,
            "crf": config.output.crf,
            "interpolation": InterpolationConfig.from_options(config.interpolation, fps=config.fps),
            "quality_checks": config.output.quality_checks,
        }
        return RenderOptions(**(values | overrides))

    def generate_video(
        self,
        plan: GenerationPlan | WanConfig | Mapping[str, Any],
        run_dir: str | Path | None = None,
        *,
        config: WanConfig | None = None,
        callback: Any = None,
        control: Any = None,
        resume: bool = False,
        seed: int | None = None,
    ) -> VideoResult:
        """Render a plan (or settings: planned, and enhanced when enhance_enabled) into `run_dir`."""
        import datetime

        from ..render import render

        if not isinstance(plan, GenerationPlan):
            config = as_config(plan)
            plan, _ = self.plan_run(config, run_dir if resume else None, seed=seed)
        config = config or WanConfig()
        if run_dir is None:
            run_dir = self.output_dir / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        result = render(
            plan,
            run_dir,
            options=self.render_options(config),
            callback=callback,
            control=control,
            resume=resume,
            settings=config.to_dict(),
        )
        return VideoResult(result.run_dir, result.video, result.frames_dir, result.plan, result.metrics)
