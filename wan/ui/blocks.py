"""The Wan Video tab: one Gradio Blocks builder used inside the WebUI and by `python -m wan serve`.

Controls are made from the settings' Specs (wan.ui.layout), callbacks are wan.ui.actions, and
generation runs as a job of the JobService, polled once a second for progress, the latest
preview, the video and its metrics. Building imports gradio and the library's pure parts only,
never torch.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import gradio as gr

from ..config import SettingsError, WanConfig, all_specs, config_from_dict, fields
from ..models import MODELS
from ..movement.shake import shake_presets
from ..prompts.models import ENHANCER_MODELS
from ..service import JobService
from . import compat
from .actions import (
    ENHANCE_HEADERS,
    FORM_KEYS,
    JOB_HEADERS,
    MOVEMENT_HEADERS,
    OPTIONAL_NUMBERS,
    TabActions,
    blank_none,
    form_values,
    prompts_text,
)
from .layout import (
    ENHANCE_SECTIONS,
    LONG_TEXT,
    MODEL_SECTIONS,
    MOVEMENT_SECTIONS,
    OUTPUT_SECTIONS,
    PROMPT_SECTION,
    RESOLUTIONS,
    SLIDERS,
    Section,
)

POLL_SECONDS = 1.0
CSS_FILE = Path(__file__).resolve().parents[2] / "style.css"
JS_FILE = Path(__file__).resolve().parents[2] / "javascript" / "wan_video.js"


def _choices_for(key: str) -> list[str] | None:
    if key in ("model", "i2v_model"):
        ids = [model_id for model_id in MODELS if not model_id.startswith("tiny")]
        return ([""] if key == "i2v_model" else []) + ids + [m for m in MODELS if m.startswith("tiny")]
    if key == "shake_name":
        return ["None", *shake_presets()]
    if key == "enhance_model":
        return ["auto", *ENHANCER_MODELS]
    return None


def control(spec: fields.Spec, value: Any) -> Any:
    """The component for one setting: its kind from the validator, its tooltip from the help."""
    check = spec.check
    common = {"label": spec.key, "info": spec.help, "value": value, "elem_id": f"wan_{spec.key}"}
    choices = _choices_for(spec.key)
    if choices is not None:
        return compat.make(gr.Dropdown, choices=choices, allow_custom_value=True, **common)
    if isinstance(check, fields.Choice):
        return compat.make(gr.Dropdown, choices=list(check.options), **common)
    if isinstance(check, fields.Flag):
        return compat.make(gr.Checkbox, **common)
    if spec.key in OPTIONAL_NUMBERS:
        # a Number box cannot be empty (gradio 3.41 sends 0): text, empty meaning the default
        return compat.make(
            gr.Textbox, placeholder="empty: the default", max_lines=1, **common | {"value": blank_none(value)}
        )
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
    section: Section, specs: dict[str, fields.Spec], defaults: dict[str, Any], made: dict[str, Any]
) -> None:
    with gr.Accordion(section.title, open=section.open):
        for key in section.keys:
            made[key] = control(specs[key], defaults[key])


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


def build_ui(service: JobService, *, title: str = "Wan Video", defaults: dict[str, Any] | None = None) -> Any:
    """The tab as a gr.Blocks (not launched): settings, movement, enhancement, generate, jobs.
    `defaults` (settings keys) replace the form's starting values, e.g. the WebUI's default model."""
    actions = TabActions(service)
    specs = {spec.key: spec for _group, spec in all_specs()}
    start = starting_config(defaults)
    defaults = start.to_dict()
    made: dict[str, Any] = {}
    css = CSS_FILE.read_text(encoding="utf-8") if CSS_FILE.is_file() else ""
    with compat.blocks(title=title, css=css) as demo:
        problem = service.check_environment()
        if problem:  # planning and analysis still work; generation says why it cannot
            gr.Markdown(f"⚠ **Generation is unavailable here.** {problem}", elem_id="wan_unavailable")
        with gr.Row(elem_id="wan_video_tab"):
            with gr.Column(scale=3), gr.Tabs():
                with gr.Tab("Prompts & schedules"):
                    made["prompts"] = compat.make(
                        gr.Textbox,
                        value=prompts_text(start),
                        lines=8,
                        max_lines=30,
                        label="prompts",
                        info=specs["prompts"].help,
                        elem_id="wan_prompts",
                    )
                    with gr.Row():
                        settings_file = compat.make(
                            gr.File,
                            label="Deforum or Wan settings file (.txt / .json)",
                            file_types=[".txt", ".json"],
                            elem_id="wan_settings_file",
                        )
                        import_button = gr.Button("Import settings file", elem_id="wan_import")
                    with gr.Accordion("Presets and export", open=False):
                        with gr.Row():
                            preset_list = compat.make(
                                gr.Dropdown,
                                choices=actions.preset_names(),
                                label="preset",
                                info="Saved presets (in the output folder's presets/)",
                            )
                            preset_name = compat.make(
                                gr.Textbox, label="new preset name", info="Letters, digits, space, . _ -"
                            )
                        with gr.Row():
                            load_preset = gr.Button("Load preset")
                            save_preset = gr.Button("Save as preset")
                            export_button = gr.Button("Export settings")
                        export_file = compat.make(gr.File, label="exported settings", interactive=False)
                    _section(PROMPT_SECTION, specs, defaults, made)
                    for section in MOVEMENT_SECTIONS:
                        _section(section, specs, defaults, made)
                with gr.Tab("Movement"):
                    analyse_button = gr.Button("Analyse camera movement", elem_id="wan_analyse")
                    analyse_message = gr.Markdown(elem_id="wan_analyse_message")
                    movement_table = _table(
                        MOVEMENT_HEADERS, "clips and their movement", "wan_movement_table"
                    )
                    movement_plot = compat.make(
                        gr.Image, label="camera curves", type="filepath", interactive=False
                    )
                with gr.Tab("Prompt enhancement"):
                    for section in ENHANCE_SECTIONS:
                        _section(section, specs, defaults, made)
                    enhance_button = gr.Button("Preview enhanced prompts", elem_id="wan_enhance_preview")
                    enhance_message = gr.Markdown()
                    enhance_table = _table(ENHANCE_HEADERS, "before / after", "wan_enhance_table")
                with gr.Tab("Model & memory"):
                    resolution = compat.make(
                        gr.Dropdown,
                        choices=[label for label, _w, _h in RESOLUTIONS],
                        value=RESOLUTIONS[0][0],
                        label="resolution preset",
                        info="Sets W and H to a size Wan was trained on",
                    )
                    for section in MODEL_SECTIONS:
                        _section(section, specs, defaults, made)
                with gr.Tab("Output"):
                    for section in OUTPUT_SECTIONS:
                        _section(section, specs, defaults, made)
                with gr.Tab("Jobs"):
                    refresh_jobs = gr.Button("Refresh", elem_id="wan_refresh_jobs")
                    jobs_table = _table(JOB_HEADERS, "queue and history", "wan_jobs_table")
                    batch_files = compat.make(
                        gr.File,
                        label="batch: several settings files, run in order",
                        file_count="multiple",
                        file_types=[".txt", ".json"],
                    )
                    batch_button = gr.Button("Queue batch")
                    batch_message = gr.Markdown()
                    with gr.Row():
                        pick_job = compat.make(
                            gr.Textbox,
                            label="job id",
                            info="Paste an id from the table to follow that job",
                        )
                        follow_button = gr.Button("Follow job")
            with gr.Column(scale=2):
                generate_button = gr.Button("Generate", variant="primary", elem_id="wan_generate")
                message = gr.Markdown(elem_id="wan_message")
                job_id = compat.make(
                    gr.Textbox,
                    value="",
                    label="job",
                    info="The job this panel follows (the Jobs tab can switch to another)",
                    interactive=False,
                    max_lines=1,
                    elem_id="wan_job_id",
                )
                progress = gr.Markdown(elem_id="wan_progress")
                gr.HTML('<progress id="wan_progress_bar" max="1" value="0"></progress>')
                preview = compat.make(
                    gr.Image, label="live preview", type="filepath", interactive=False, elem_id="wan_preview"
                )
                with gr.Row():
                    pause_button = gr.Button("Pause", elem_id="wan_pause")
                    resume_button = gr.Button("Resume", elem_id="wan_resume")
                    cancel_button = gr.Button("Cancel", variant="stop", elem_id="wan_cancel")
                video = compat.make(gr.Video, label="video", interactive=False, elem_id="wan_video")
                metrics = compat.make(gr.JSON, label="metrics", elem_id="wan_metrics")

        form = [made[key] for key in FORM_KEYS]

        def fill(values: list[Any] | None, text: str) -> list[Any]:
            if values is None:
                return [gr.update() for _ in form] + [text]
            return [*values, text]

        import_button.click(
            lambda file: fill(*actions.import_file(compat.file_path(file))),
            inputs=[settings_file],
            outputs=[*form, message],
        )
        load_preset.click(
            lambda name: fill(*actions.load_preset(name)), inputs=[preset_list], outputs=[*form, message]
        )
        save_preset.click(
            lambda name, *values: (
                actions.save_preset(name, values),
                gr.update(choices=actions.preset_names()),
            ),
            inputs=[preset_name, *form],
            outputs=[message, preset_list],
        )
        export_button.click(
            lambda *values: actions.export_settings(values), inputs=form, outputs=[export_file, message]
        )
        resolution.change(
            lambda label: [int(v) for v in next((w, h) for name, w, h in RESOLUTIONS if name == label)],
            inputs=[resolution],
            outputs=[made["W"], made["H"]],
        )
        analyse_button.click(
            lambda *values: actions.analyse(values),
            inputs=form,
            outputs=[movement_table, movement_plot, analyse_message],
        )
        enhance_button.click(
            lambda *values: actions.preview_enhancement(values),
            inputs=form,
            outputs=[enhance_table, enhance_message],
        )
        generate_button.click(
            lambda *values: actions.generate(values), inputs=form, outputs=[job_id, message]
        )
        pause_button.click(lambda job: actions.act("pause", job), inputs=[job_id], outputs=[message])
        resume_button.click(lambda job: actions.act("resume", job), inputs=[job_id], outputs=[message])
        cancel_button.click(lambda job: actions.act("cancel", job), inputs=[job_id], outputs=[message])
        refresh_jobs.click(actions.job_rows, inputs=[], outputs=[jobs_table])
        batch_button.click(
            lambda files: actions.submit_files(compat.file_paths(files)),
            inputs=[batch_files],
            outputs=[batch_message],
        )
        follow_button.click(lambda picked: picked.strip(), inputs=[pick_job], outputs=[job_id])

        def poll(job: str) -> list[Any]:
            status = actions.status(job)
            return [
                status["progress"],
                status["preview"],
                status["video"] if status["video"] else gr.update(),
                status["metrics"] if status["metrics"] is not None else gr.update(),
            ]

        compat.follow(job_id, poll, [progress, preview, video, metrics], POLL_SECONDS, actions.settled)
        demo.load(actions.job_rows, inputs=[], outputs=[jobs_table])
    return demo


def initial_values() -> list[Any]:
    """The form's values for the default settings (tests compare against these)."""
    return form_values(WanConfig())
