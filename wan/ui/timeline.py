"""The tab's timeline panel (Gradio): the clips of the run as a strip of first/last frames with a
table of prompt, seed, take and quality flags; pick a clip to re-roll or edit it; "Re-render
changes" lists which clips are reused and which rendered before "Start re-render"; "Apply to
running job" sends the form to the followed job; "Preview (fast)" and "Render this in full" (in
the generate panel, built by wan.ui.blocks). The logic is wan.ui.iterating; this module builds
and wires the components only.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from . import compat
from .iterating import TIMELINE_HEADERS, IterateActions, with_setting


def build_timeline(parts: dict[str, Any]) -> None:
    """The timeline panel's components, into `parts`."""
    p = parts
    with gr.Accordion("Timeline: the clips of the run", open=True):
        with gr.Row():
            p["run_dir"] = compat.make(
                gr.Textbox,
                label="Run folder",
                info="Where re-renders go (a new take each time); empty: the followed job's run folder",
                max_lines=1,
                elem_id="wan_run_dir",
            )
            p["show_timeline"] = gr.Button("Show timeline", elem_id="wan_show_timeline")
        p["timeline"] = compat.make(
            gr.Gallery,
            label="First and last frame of each clip (pick one to re-roll or edit it)",
            columns=6,
            height=210,
            allow_preview=False,
            object_fit="contain",
            elem_id="wan_timeline",
        )
        p["timeline_clips"] = gr.State([])
        p["timeline_table"] = compat.make(
            gr.Dataframe,
            headers=TIMELINE_HEADERS,
            value=[],
            label="Clip plan: frames, seed, the take that rendered each clip (or what a re-render does)",
            interactive=False,
            wrap=True,
            column_widths=["6%", "9%", "11%", "22%", "12%", "40%"],
            elem_id="wan_timeline_table",
        )
        with gr.Row():
            p["clip"] = compat.make(
                gr.Number,
                value=0,
                precision=0,
                minimum=0,
                label="Clip",
                info="The clip to re-roll or edit (pick it on the timeline)",
                elem_id="wan_clip",
            )
            p["clip_prompt"] = compat.make(
                gr.Textbox,
                label="Its prompt",
                info="The prompt keyframe the clip comes from ('--neg' starts a negative part)",
                lines=2,
                elem_id="wan_clip_prompt",
            )
        with gr.Row():
            p["reroll"] = gr.Button("Re-roll clip (new seed)", elem_id="wan_reroll")
            p["edit"] = gr.Button("Apply prompt edit", elem_id="wan_edit")
        with gr.Row():
            p["compare"] = gr.Button("Re-render changes", elem_id="wan_compare")
            p["rerender"] = gr.Button("Start re-render", variant="primary", elem_id="wan_rerender")
            p["adjust"] = gr.Button("Apply to running job", elem_id="wan_adjust")
        p["timeline_message"] = gr.Markdown(elem_id="wan_timeline_message")


def wire_timeline(parts: dict[str, Any], form: list[Any], made: dict[str, Any], act: IterateActions) -> None:
    """Connect the timeline panel (see the module doc)."""
    p = parts
    prompts, clip_seeds = made["prompts"], made["clip_seeds"]
    where = [p["job_id"], p["run_dir"]]
    message = p["timeline_message"]

    def show(job: str, run: str, *values: Any) -> list[Any]:
        return list(act.timeline(values, job, run))

    timeline_outputs = [p["timeline"], p["timeline_clips"], p["timeline_table"], message]
    p["show_timeline"].click(show, inputs=[*where, *form], outputs=timeline_outputs)

    def pick(evt: gr.SelectData, shown: list[int], *values: Any) -> list[Any]:
        index = shown[evt.index] if isinstance(evt.index, int) and evt.index < len(shown) else evt.index
        return list(act.select(values, index))

    p["timeline"].select(
        pick, inputs=[p["timeline_clips"], *form], outputs=[p["clip"], p["clip_prompt"], message]
    )

    def pick_row(evt: gr.SelectData, *values: Any) -> list[Any]:
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return list(act.select(values, row))

    p["timeline_table"].select(pick_row, inputs=form, outputs=[p["clip"], p["clip_prompt"], message])

    def reroll(job: str, run: str, clip: Any, *values: Any) -> list[Any]:
        seeds, text = act.reroll(values, clip)
        if text.startswith("⚠"):
            return [gr.update(), gr.update(), text]
        rows, summary = act.compare(with_setting(values, "clip_seeds", seeds), job, run)
        return [seeds, rows or gr.update(), f"{text} {summary}"]

    p["reroll"].click(
        reroll, inputs=[*where, p["clip"], *form], outputs=[clip_seeds, p["timeline_table"], message]
    )
    p["edit"].click(
        lambda clip, text, *values: list(act.edit(values, clip, text)),
        inputs=[p["clip"], p["clip_prompt"], *form],
        outputs=[prompts, message],
    )
    p["compare"].click(
        lambda job, run, *values: list(act.compare(values, job, run)),
        inputs=[*where, *form],
        outputs=[p["timeline_table"], message],
    )
    follow = [p["job_id"], p["message"]]  # the generate panel says what was queued
    p["rerender"].click(
        lambda job, run, *values: list(act.rerender(values, job, run)), inputs=[*where, *form], outputs=follow
    )
    p["render_this"].click(
        lambda job, run, *values: list(act.render_this(values, job, run)),
        inputs=[*where, *form],
        outputs=follow,
    )
    p["preview_run"].click(lambda *values: list(act.preview(values)), inputs=form, outputs=follow)
    p["adjust"].click(
        lambda job, *values: act.adjust(values, job), inputs=[p["job_id"], *form], outputs=[message]
    )


def plan_on_load(
    parts: dict[str, Any], form: list[Any], act: IterateActions
) -> tuple[Any, list[Any], list[Any]]:
    """(fn, inputs, outputs) that show the form's plan in the timeline table when the page loads."""

    def show(*values: Any) -> list[Any]:
        _gallery, _shown, rows, message = act.timeline(values)
        return [rows, message]

    return show, form, [parts["timeline_table"], parts["timeline_message"]]


def timeline_poll(parts: dict[str, Any], act: IterateActions) -> tuple[list[Any], Any]:
    """(outputs, poll) for following a job: the timeline is redrawn when a clip lands (the poll
    gets and returns the signature of what it showed)."""
    p = parts

    def poll(job: str, shown: str) -> list[Any]:
        now = act.signature(job)
        if now == shown or not now:
            return [gr.update(), gr.update(), gr.update(), gr.update(), shown]
        return [*act.timeline((), job, ""), now]

    return [p["timeline"], p["timeline_clips"], p["timeline_table"], p["timeline_message"]], poll
