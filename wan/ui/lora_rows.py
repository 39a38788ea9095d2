"""The tab's LoRA rows and the one `loras` setting they stand for (pure; no gradio here).

The tab shows MAX_LORAS rows, each a LoRA (a dropdown of the LoRAs found, any name or path
typed in also works), a weight slider, an optional weight schedule (Deforum syntax; when given it
wins over the slider) and the expert. A row without a LoRA is left out. Their values travel in
the form after the settings (ROW_KEYS), and become the `loras` list of the settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..config import MAX_LORAS, LoraSpec

PARTS = ("file", "weight", "schedule", "expert")
ROWS = MAX_LORAS
ROW_KEYS = tuple(f"lora_{row + 1}_{part}" for row in range(ROWS) for part in PARTS)
SLIDER_RANGE = (-2.0, 2.0)
SLIDER_STEP = 0.05
EMPTY_ROW = ("", 1.0, "", "both")
HELP = {
    "file": "A LoRA in the LoRA folders (models/wan/loras; in the WebUI also models/Lora), or a path",
    "weight": "How strongly the LoRA applies (0: not at all)",
    "schedule": "Optional: the weight over the animation in Deforum syntax, e.g. 0:(0.8), 96:(0.2); "
    "each clip takes the value at its middle frame. Wins over the slider",
    "expert": "Wan 2.2 A14B: the high-noise expert, the low-noise one, or both; other models: both",
}


def row_values(loras: Sequence[LoraSpec], names: Mapping[str, str] | None = None) -> list[Any]:
    """The rows' values (in ROW_KEYS order) for a `loras` setting; `names` maps a file to the
    name the dropdown shows it by."""
    names = names or {}
    values: list[Any] = []
    for row in range(ROWS):
        if row >= len(loras):
            values += EMPTY_ROW
            continue
        lora = loras[row]
        shown = names.get(lora.file, lora.file)
        low, high = SLIDER_RANGE
        if isinstance(lora.weight, float) and low <= lora.weight <= high:
            values += [shown, lora.weight, "", lora.expert]
        else:  # a schedule, or a number the slider cannot show
            values += [shown, 1.0, str(lora.weight), lora.expert]
    return values


def loras_of_rows(values: Sequence[Any]) -> list[dict[str, Any]]:
    """The `loras` setting of the rows' values (in ROW_KEYS order)."""
    loras = []
    for row in range(ROWS):
        file, weight, schedule, expert = values[row * len(PARTS) : (row + 1) * len(PARTS)]
        if not isinstance(file, str) or not file.strip():
            continue
        scheduled = schedule.strip() if isinstance(schedule, str) else ""
        loras.append(
            {
                "file": file.strip(),
                "weight": scheduled or (1.0 if weight is None else weight),
                "expert": expert or "both",
            }
        )
    return loras
