"""UI benchmark: how long building the Wan Video tab takes (gr.Blocks with every control and
event, not launched), and that it imports neither torch nor diffusers. Run it with each gradio
the hosts use (tests/run.sh's .venv-gradio-* venvs hold 3.41.2 and 4.40; .venv the current one).

Run: python benchmarks/bench_ui.py [--repeats 5]
Appends what it measured to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time

from common import append_results, command, load_average, machine, ms, timed, versions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    started = time.perf_counter()
    import gradio  # noqa: F401  (the WebUI has it imported long before the tab is built)

    gradio_import = time.perf_counter() - started
    started = time.perf_counter()
    from wan.service import JobService, WanAPI
    from wan.ui import build_ui

    wan_import = time.perf_counter() - started
    folder = tempfile.mkdtemp(prefix="wan-bench-ui-")
    service = JobService(WanAPI(output_dir=folder), f"{folder}/jobs", start=False)
    builds = timed(lambda: build_ui(service), args.repeats)
    heavy = [name for name in ("torch", "diffusers", "transformers", "cv2") if name in sys.modules]
    imported = ", ".join(heavy) if heavy else "none of torch, diffusers, transformers, cv2"
    append_results(
        [
            f"## Building the Wan Video tab — {datetime.date.today().isoformat()}",
            "",
            f"- machine: {machine()}; load average {load_average()}",
            f"- versions: {versions('gradio', 'fastapi', 'pydantic')}",
            f"- command: `{command()}`",
            f"- build_ui (every control and event, not launched): {ms(builds)} over {args.repeats} builds",
            f"- importing wan's service and UI modules: {wan_import * 1000:.0f} ms "
            f"(gradio's own import, done by the host: {gradio_import:.2f} s)",
            f"- heavy modules imported: {imported}",
            "",
        ]
    )


if __name__ == "__main__":
    main()
