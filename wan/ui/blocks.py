"""The Wan Video tab: one Gradio Blocks builder used inside the WebUI and by `python -m wan serve`.

Controls are made from the settings' Specs (wan.ui.layout): each shows its setting's label, with
the settings key and its help as the tooltip. Callbacks are wan.ui.actions (and wan.ui.iterating
for the timeline panel, wan.ui.timeline); generation runs as a job of the JobService, followed
once a second for progress, the progress bar, the live preview (redrawn while a clip denoises),
the video, its metrics and the timeline of its clips. The camera curves sit beside the camera
schedules and are redrawn as a schedule is typed. Building imports gradio and the library's pure parts only,
never torch.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from ..catalog import MODELS, shake_presets
from ..config import EXPERTS, SettingsError, WanConfig, all_specs, config_from_dict, fields
from ..prompts.models import ENHANCER_MODELS
from ..service import JobService
from . import compat
from .actions import (
    ENHANCE_HEADERS,
    FORM_KEYS,
    JOB_HEADERS,
    MODEL_HEADERS,
    MOVEMENT_HEADERS,
    OPTIONAL_NUMBERS,
    STAGES_HEADERS,
    TabActions,
    progress_bar,
    prompts_text,
    shown,
)
from .gpus import service_gpus
from .iterating import IterateActions
from .layout import LONG_TEXT, LORA_SECTION, MOVEMENT_KEYS, RESOLUTIONS, SLIDERS, Section, tabs
from .lora_rows import HELP, PARTS, ROW_KEYS, SLIDER_RANGE, SLIDER_STEP, row_values
from .quality_view import CLIP_QUALITY_HEADERS
from .timeline import build_timeline, plan_on_load, timeline_poll, wire_timeline

POLL_SECONDS = 1.0
DOWNLOAD_POLL_SECONDS = 2.0
PLOT_DEBOUNCE_SECONDS = 0.4
# the settings whose change redraws the camera curves
CAMERA_PLOT_KEYS = (*MOVEMENT_KEYS, "shake_name", "shake_intensity", "shake_speed")
CSS_FILE = Path(__file__).resolve().parents[2] / "style.css"
JS_FILE = Path(__file__).resolve().parents[2] / "javascript" / "wan_video.js"


def _choices_for(key: str) -> list[str] | None:
    models = [spec for spec in MODELS.values() if not spec.tiny] + [
        spec for spec in MODELS.values() if spec.tiny
    ]
    if key == "model":
        return [spec.id for spec in models]
    if key == "i2v_model":
        return ["", *(spec.id for spec in models if spec.kind == "i2v")]
    if key == "shake_name":
        return ["None", *shake_presets()]
    if key == "enhance_model":
        return ["auto", *ENHANCER_MODELS]
    if key == "upscale_model":  # the files of the upscaler folders are added when the tab loads
        return [""]
    return None


def control(spec: fields.Spec, value: Any) -> Any:
    """The component for one setting: its kind from the validator, its label and tooltip from
    the Spec (the key is in the tooltip, for people who read settings files)."""
    check = spec.check
    common = {
        "label": spec.label,
        "info": f"{spec.help} [{spec.key}]",
        "value": value,
        "elem_id": f"wan_{spec.key}",
    }
    choices = _choices_for(spec.key)
    if choices is not None:
        return compat.make(gr.Dropdown, choices=choices, allow_custom_value=True, **common)
    if isinstance(check, fields.Choice):
        return compat.make(gr.Dropdown, choices=list(check.options), **common)
    if isinstance(check, fields.Flag):
        return compat.make(gr.Checkbox, **common)
    if spec.key in OPTIONAL_NUMBERS:
        # a Number box cannot be empty (gradio 3.41 sends 0): text, empty meaning the default
        return compat.make(gr.Textbox, placeholder="empty: the default", max_lines=1, **common)
    if isinstance(check, (fields.Integer, fields.Number)):
        whole = isinstance(check, fields.Integer)
        if spec.key in SLIDERS and value is not None:
            return compat.make(
                gr.Slider, minimum=check.minimum, maximum=check.maximum, step=SLIDERS[spec.key], **common
            )
        return compat.make(
            gr.Number, precision=0 if whole else None, minimum=check.minimum, maximum=check.maximum, **common
        )
    lines = 3 if spec.key in LONG_TEXT else 1
    return compat.make(gr.Textbox, lines=lines, max_lines=12, **common)


def _section(
    section: Section,
    specs: dict[str, fields.Spec],
    values: dict[str, Any],
    made: dict[str, Any],
    parts: dict[str, Any] | None = None,
) -> None:
    if not section.keys:
        return
    with gr.Accordion(section.title, open=section.open):
        if not section.plot or parts is None:
            for key in section.keys:
                made[key] = control(specs[key], values[key])
            return
        with gr.Row():
            with gr.Column(scale=1):
                for key in section.keys:
                    made[key] = control(specs[key], values[key])
            with gr.Column(scale=1):
                parts["camera_plot"] = compat.make(
                    gr.Image,
                    label="Camera curves (redrawn as you type)",
                    type="filepath",
                    interactive=False,
                    elem_id="wan_camera_plot",
                )
                parts["camera_message"] = gr.Markdown(elem_id="wan_camera_message")


def _lora_control(key: str, value: Any, choices: list[str]) -> Any:
    """One control of a LoRA row (`lora_2_weight`: row 2's weight slider)."""
    row, part = key.split("_")[1], key.rsplit("_", 1)[1]
    common = {
        "label": f"LoRA {row}" if part == "file" else part.capitalize(),
        "info": f"{HELP[part]} [loras]",
        "value": value,
        "elem_id": f"wan_{key}",
    }
    if part == "file":
        return compat.make(gr.Dropdown, choices=choices, allow_custom_value=True, **common)
    if part == "weight":
        low, high = SLIDER_RANGE
        return compat.make(gr.Slider, minimum=low, maximum=high, step=SLIDER_STEP, **common)
    if part == "schedule":
        return compat.make(gr.Textbox, max_lines=1, placeholder="0:(0.8), 96:(0.2)", **common)
    return compat.make(gr.Dropdown, choices=list(EXPERTS), **common)


def _lora_section(
    section: Section,
    specs: dict[str, fields.Spec],
    values: dict[str, Any],
    tab: _Tab,
    start: WanConfig,
    names: dict[str, str],
) -> None:
    """The LoRA rows (wan.ui.lora_rows), one row each of a LoRA dropdown (the LoRAs found, by
    name), weight slider, optional schedule and expert, a button that looks for LoRAs again; then
    any setting the section lists."""
    shown = {file: name for name, file in names.items()}
    rows = dict(zip(ROW_KEYS, row_values(start.lora.loras, shown), strict=True))
    choices = ["", *names]
    with gr.Accordion(section.title, open=section.open or bool(start.lora.loras)):
        for first in range(0, len(ROW_KEYS), len(PARTS)):
            with gr.Row():
                for key in ROW_KEYS[first : first + len(PARTS)]:
                    tab.made[key] = _lora_control(key, rows[key], choices)
        tab.parts["refresh_loras"] = gr.Button("Look for LoRAs again", elem_id="wan_refresh_loras")
        for key in section.keys:
            tab.made[key] = control(specs[key], values[key])


def _table(headers: list[str], label: str, elem_id: str) -> Any:
    return compat.make(
        gr.Dataframe, headers=headers, value=[], label=label, interactive=False, wrap=True, elem_id=elem_id
    )


def starting_config(defaults: dict[str, Any] | None) -> WanConfig:
    """The settings the form starts with: ours, with the host's choices (model, ...) where valid."""
    if not defaults:
        return WanConfig()
    try:
        return config_from_dict(dict(defaults))[0]
    except SettingsError as exc:  # a bad WebUI setting must not keep the tab from loading
        print(f"Wan Video: ignoring the default settings from the WebUI: {exc}", file=sys.stderr)
        return WanConfig()


@dataclass
class _Tab:
    """The components the callbacks wire together."""

    made: dict[str, Any] = field(default_factory=dict)
    parts: dict[str, Any] = field(default_factory=dict)

    @property
    def form(self) -> list[Any]:
        return [self.made[key] for key in FORM_KEYS]


def _prompts_tab(
    tab: _Tab,
    actions: TabActions,
    start: WanConfig,
    specs: dict[str, fields.Spec],
    values: dict[str, Any],
    sections: tuple[Section, ...],
) -> None:
    p = tab.parts
    tab.made["prompts"] = compat.make(
        gr.Textbox,
        value=prompts_text(start),
        lines=8,
        max_lines=30,
        label=specs["prompts"].label,
        info=f"{specs['prompts'].help} [prompts]",
        elem_id="wan_prompts",
    )
    with gr.Row():
        p["settings_file"] = compat.guard_uploads(
            compat.make(
                gr.File,
                label="Deforum or Wan settings file (.txt / .json)",
                file_types=[".txt", ".json"],
                elem_id="wan_settings_file",
            ),
            actions.uploads,
        )
        p["import"] = gr.Button("Import settings file", elem_id="wan_import")
    with gr.Accordion("Presets and export", open=False):
        with gr.Row():
            p["preset_list"] = compat.make(
                gr.Dropdown,
                choices=actions.preset_names(),
                label="Preset",
                info="Saved presets (in the output folder's presets/)",
            )
            p["preset_name"] = compat.make(
                gr.Textbox, label="New preset name", info="Letters, digits, space, . _ -"
            )
        with gr.Row():
            p["load_preset"] = gr.Button("Load preset")
            p["save_preset"] = gr.Button("Save as preset")
            p["export"] = gr.Button("Export settings")
        p["export_file"] = compat.make(gr.File, label="Exported settings", interactive=False)
    for section in sections:
        _section(section, specs, values, tab.made, tab.parts)


def _analysis_tabs(
    tab: _Tab, specs: dict[str, fields.Spec], values: dict[str, Any], enhance_sections: tuple[Section, ...]
) -> None:
    p = tab.parts
    with gr.Tab("Movement"):
        p["analyse"] = gr.Button("Analyse camera movement", elem_id="wan_analyse")
        p["analyse_message"] = gr.Markdown(elem_id="wan_analyse_message")
        p["movement_table"] = _table(MOVEMENT_HEADERS, "Clips and their movement", "wan_movement_table")
        p["movement_plot"] = compat.make(gr.Image, label="Camera curves", type="filepath", interactive=False)
    with gr.Tab("Prompt enhancement"):
        for section in enhance_sections:
            _section(section, specs, values, tab.made)
        p["enhance"] = gr.Button("Preview enhanced prompts", elem_id="wan_enhance_preview")
        p["enhance_message"] = gr.Markdown()
        p["enhance_table"] = _table(ENHANCE_HEADERS, "Before / after", "wan_enhance_table")


def _model_files(tab: _Tab, actions: TabActions) -> None:
    """The models, their sizes, which are here, and downloads with their progress."""
    p = tab.parts
    with gr.Accordion("Model files", open=False):
        p["models_table"] = _table(MODEL_HEADERS, "Video models", "wan_models_table")
        with gr.Row():
            p["download_model"] = compat.make(
                gr.Dropdown,
                choices=actions.downloadable(),
                label="Model to download",
                info="Into the models folder, resumable; the server must allow downloads",
                elem_id="wan_download_model",
            )
            p["download"] = gr.Button("Download", elem_id="wan_download")
            p["refresh_models"] = gr.Button("Refresh", elem_id="wan_refresh_models")
        p["download_message"] = gr.Markdown(elem_id="wan_download_message")
        p["download_following"] = compat.make(gr.Textbox, value="", visible=False)


def _model_and_output_tabs(
    tab: _Tab,
    actions: TabActions,
    specs: dict[str, fields.Spec],
    values: dict[str, Any],
    layout: dict[str, tuple[Section, ...]],
    loras: tuple[WanConfig, dict[str, str]],
) -> None:
    with gr.Tab("Model & memory"):
        tab.parts["resolution"] = compat.make(
            gr.Dropdown,
            choices=[label for label, _w, _h in RESOLUTIONS],
            value=RESOLUTIONS[0][0],
            label="Resolution preset",
            info="Sets Width and Height to a size Wan was trained on",
        )
        for section in layout["Model & memory"]:
            if section.title == LORA_SECTION:
                _lora_section(section, specs, values, tab, *loras)
            else:
                _section(section, specs, values, tab.made)
        tab.parts["model_facts"] = gr.Markdown(
            actions.model_facts(values["model"]), elem_id="wan_model_facts"
        )
        _model_files(tab, actions)
        with gr.Accordion("GPUs", open=False):
            tab.parts["gpus"] = gr.Markdown(elem_id="wan_gpus")
            tab.parts["refresh_gpus"] = gr.Button("Refresh", elem_id="wan_refresh_gpus")
    with gr.Tab("Output"):
        for section in layout["Output"]:
            _section(section, specs, values, tab.made)


def _jobs_tab(tab: _Tab, actions: TabActions) -> None:
    p = tab.parts
    with gr.Tab("Jobs"):
        p["refresh_jobs"] = gr.Button("Refresh", elem_id="wan_refresh_jobs")
        p["jobs_table"] = _table(JOB_HEADERS, "Queue and history", "wan_jobs_table")
        p["batch_files"] = compat.guard_uploads(
            compat.make(
                gr.File,
                label="Batch: several settings files, run in order",
                file_count="multiple",
                file_types=[".txt", ".json"],
                elem_id="wan_batch_files",
            ),
            actions.uploads,
        )
        p["batch"] = gr.Button("Queue batch")
        p["batch_message"] = gr.Markdown()
        with gr.Row():
            p["pick_job"] = compat.make(
                gr.Textbox, label="Job id", info="Paste an id from the table to follow that job"
            )
            p["follow"] = gr.Button("Follow job")


def _generate_panel(tab: _Tab) -> None:
    p = tab.parts
    with gr.Row():
        p["generate"] = gr.Button("Generate", variant="primary", elem_id="wan_generate")
        p["preview_run"] = gr.Button("Preview (fast)", elem_id="wan_preview_run")
        p["render_this"] = gr.Button("Render this in full", elem_id="wan_render_this")
    p["message"] = gr.Markdown(elem_id="wan_message")
    p["job_id"] = compat.make(
        gr.Textbox,
        value="",
        label="Job",
        info="The job this panel follows (the Jobs tab can switch to another)",
        interactive=False,
        max_lines=1,
        elem_id="wan_job_id",
    )
    p["progress"] = gr.Markdown(elem_id="wan_progress")
    p["bar"] = compat.make(gr.HTML, value=progress_bar(None), elem_id="wan_progress_html")
    p["preview"] = compat.make(
        gr.Image, label="Live preview", type="filepath", interactive=False, elem_id="wan_preview"
    )
    with gr.Row():
        p["pause"] = gr.Button("Pause", elem_id="wan_pause")
        p["resume"] = gr.Button("Resume", elem_id="wan_resume")
        p["cancel"] = gr.Button("Cancel", variant="stop", elem_id="wan_cancel")
    p["video"] = compat.make(gr.Video, label="Video", interactive=False, elem_id="wan_video")
    p["metrics"] = compat.make(gr.JSON, label="Metrics", elem_id="wan_metrics")
    p["stages"] = _table(STAGES_HEADERS, "Where the time went (per stage)", "wan_stages")
    p["clip_quality"] = _table(
        CLIP_QUALITY_HEADERS, "Clip quality (re-rolled clips and why)", "wan_clip_quality"
    )
    p["quality_plot"] = compat.make(
        gr.Image, label="Quality over time", type="filepath", interactive=False, elem_id="wan_quality_plot"
    )


def _wire_camera_plot(tab: _Tab, actions: TabActions) -> None:
    """Redraw the camera curves when a camera setting changes (the last of a burst of typing)."""
    p, form = tab.parts, tab.form
    debounce = compat.Debounce(PLOT_DEBOUNCE_SECONDS)

    def redraw(request: gr.Request, *values: Any) -> list[Any]:
        if not debounce.newest(compat.session_of(request)):
            return [gr.update(), gr.update()]
        image, message = actions.camera_plot(values)
        return [image if image else gr.update(), message]

    for key in (*CAMERA_PLOT_KEYS, "max_frames", "fps"):
        compat.on_change(tab.made[key], redraw, form, [p["camera_plot"], p["camera_message"]])


def _wire(tab: _Tab, actions: TabActions, iterate: IterateActions) -> None:
    """Connect the buttons to the actions."""
    p, form, made = tab.parts, tab.form, tab.made
    _wire_camera_plot(tab, actions)
    wire_timeline(p, form, made, iterate)

    def fill(values: list[Any] | None, text: str) -> list[Any]:
        if values is None:
            return [gr.update() for _ in form] + [text]
        return [*values, text]

    show_plan, plan_inputs, plan_outputs = plan_on_load(p, form, iterate)
    p["import"].click(
        lambda file: fill(*actions.import_file(compat.file_path(file))),
        inputs=[p["settings_file"]],
        outputs=[*form, p["message"]],
    ).then(show_plan, inputs=plan_inputs, outputs=plan_outputs)
    p["load_preset"].click(
        lambda name: fill(*actions.load_preset(name)),
        inputs=[p["preset_list"]],
        outputs=[*form, p["message"]],
    )
    p["save_preset"].click(
        lambda name, *values: (actions.save_preset(name, values), gr.update(choices=actions.preset_names())),
        inputs=[p["preset_name"], *form],
        outputs=[p["message"], p["preset_list"]],
    )
    p["export"].click(
        lambda *values: actions.export_settings(values), inputs=form, outputs=[p["export_file"], p["message"]]
    )
    p["resolution"].change(
        lambda label: [int(v) for v in next((w, h) for name, w, h in RESOLUTIONS if name == label)],
        inputs=[p["resolution"]],
        outputs=[made["W"], made["H"]],
    )
    p["analyse"].click(
        lambda *values: actions.analyse(values),
        inputs=form,
        outputs=[p["movement_table"], p["movement_plot"], p["analyse_message"]],
    )
    p["enhance"].click(
        lambda *values: actions.preview_enhancement(values),
        inputs=form,
        outputs=[p["enhance_table"], p["enhance_message"]],
    )
    p["generate"].click(
        lambda *values: actions.generate(values), inputs=form, outputs=[p["job_id"], p["message"]]
    )
    for name in ("pause", "resume", "cancel"):
        p[name].click(
            lambda job, name=name: actions.act(name, job), inputs=[p["job_id"]], outputs=[p["message"]]
        )
    p["refresh_jobs"].click(actions.job_rows, inputs=[], outputs=[p["jobs_table"]])
    lora_files = [made[key] for key in ROW_KEYS if key.endswith("_file")]
    p["refresh_loras"].click(
        lambda: [gr.update(choices=["", *actions.lora_names()]) for _ in lora_files],
        inputs=[],
        outputs=lora_files,
    )
    p["batch"].click(
        lambda files: actions.submit_files(compat.file_paths(files)),
        inputs=[p["batch_files"]],
        outputs=[p["batch_message"]],
    )
    p["follow"].click(lambda picked: picked.strip(), inputs=[p["pick_job"]], outputs=[p["job_id"]])

    timeline_outputs, timeline_poll_of = timeline_poll(p, iterate)

    def poll(job: str, shown: str) -> list[Any]:
        status = actions.status(job)
        return [
            status["progress"],
            status["bar"],
            status["preview"],
            status["video"] if status["video"] else gr.update(),
            status["metrics"] if status["metrics"] is not None else gr.update(),
            status["stages"] if status["stages"] is not None else gr.update(),
            status["clip_quality"] if status["clip_quality"] is not None else gr.update(),
            status["quality_plot"] if status["quality_plot"] else gr.update(),
            *timeline_poll_of(job, shown),
        ]

    outputs = [p["progress"], p["bar"], p["preview"], p["video"], p["metrics"], p["stages"]]
    outputs += [p["clip_quality"], p["quality_plot"]]
    outputs += timeline_outputs
    compat.follow(p["job_id"], poll, outputs, POLL_SECONDS, actions.settled, state=p["timeline_shown"])
    made["model"].change(actions.model_facts, inputs=[made["model"]], outputs=[p["model_facts"]])
    _wire_model_files(tab, actions)


def _wire_model_files(tab: _Tab, actions: TabActions) -> None:
    """Download starts a runtime process; the table follows it until no download runs."""
    p = tab.parts
    p["refresh_models"].click(actions.model_rows, inputs=[], outputs=[p["models_table"]])

    def start(model_id: str | None) -> tuple[str, str]:
        message = actions.download(model_id)
        return message, (model_id or "") if not message.startswith("⚠") else ""

    p["download"].click(
        start, inputs=[p["download_model"]], outputs=[p["download_message"], p["download_following"]]
    )
    compat.follow(
        p["download_following"],
        lambda _model: actions.model_rows(),
        [p["models_table"]],
        DOWNLOAD_POLL_SECONDS,
        lambda _model: not actions.downloading(),
    )


def _runtime_notice(tab: _Tab, actions: TabActions) -> None:
    """When jobs cannot run: why, and (for a runtime of the extension's own) a rebuild button."""
    message = actions.runtime_message()
    notice = gr.Markdown(message, elem_id="wan_unavailable")
    if actions.service.runtime.owned:
        with gr.Row(visible=bool(message)) as row:
            rebuild = gr.Button("Prepare the runtime again", elem_id="wan_prepare_runtime")
            check = gr.Button("Check again", elem_id="wan_check_runtime")
        rebuild.click(actions.prepare_runtime, inputs=[], outputs=[notice])
        check.click(
            lambda: (actions.runtime_message(), gr.update(visible=bool(actions.runtime_message()))),
            inputs=[],
            outputs=[notice, row],
        )


def build_ui(
    service: JobService,
    *,
    title: str = "Wan Video",
    defaults: dict[str, Any] | None = None,
    uploads: list[Path] | None = None,
) -> Any:
    """The tab as a gr.Blocks (not launched): settings, movement, enhancement, generate, jobs.
    `defaults` (settings keys) replace the form's starting values, e.g. the WebUI's default model;
    `uploads`: where uploaded files may be read (default: gradio's upload folders)."""
    actions = TabActions(service, uploads=uploads if uploads is not None else compat.upload_folders())
    iterate = IterateActions(actions)
    specs = {spec.key: spec for _group, spec in all_specs()}
    start = starting_config(defaults)
    values = {key: shown(key, value) for key, value in start.to_dict().items()}
    layout = tabs()
    tab = _Tab()
    css = CSS_FILE.read_text(encoding="utf-8") if CSS_FILE.is_file() else ""
    with compat.blocks(title=title, css=css) as demo:
        _runtime_notice(tab, actions)
        with gr.Row(elem_id="wan_video_tab"):
            with gr.Column(scale=3):
                build_timeline(tab.parts)
                with gr.Tabs():
                    with gr.Tab("Prompts & schedules"):
                        _prompts_tab(tab, actions, start, specs, values, layout["Prompts & schedules"])
                    _analysis_tabs(tab, specs, values, layout["Prompt enhancement"])
                    _model_and_output_tabs(tab, actions, specs, values, layout, (start, actions.lora_names()))
                    _jobs_tab(tab, actions)
            with gr.Column(scale=2):
                _generate_panel(tab)
        tab.parts["timeline_shown"] = gr.State("")
        _wire(tab, actions, iterate)
        demo.load(actions.job_rows, inputs=[], outputs=[tab.parts["jobs_table"]])
        demo.load(
            lambda: gr.update(choices=["", *actions.upscaler_files()]),
            inputs=[],
            outputs=[tab.made["upscale_model"]],
        )
        demo.load(actions.model_rows, inputs=[], outputs=[tab.parts["models_table"]])
        show_plan, inputs, outputs = plan_on_load(tab.parts, tab.form, iterate)
        demo.load(show_plan, inputs=inputs, outputs=outputs)
        show_gpus = functools.partial(service_gpus, actions.service)
        demo.load(show_gpus, inputs=[], outputs=[tab.parts["gpus"]])
        tab.parts["refresh_gpus"].click(show_gpus, inputs=[], outputs=[tab.parts["gpus"]])
    return demo
