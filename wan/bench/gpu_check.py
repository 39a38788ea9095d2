"""The GPU check: every registered check (wan.bench.checks) on one GPU within a hard time budget,
its results appended to benchmarks/RESULTS.md as one dated record of the machine.

How it runs. This process imports no torch: it starts a worker process
(`python -m wan.bench.gpu_check --worker`) that imports the libraries once and runs the checks
one at a time, each when told to. Before each check this process looks at the budget: a check
whose usual time no longer fits is skipped with a note; a check that runs past its limit is
stopped (the worker is killed; a new one takes the remaining checks, with the facts found so far,
such as the matmul peak). What each check returned is written as it comes, so a record is
appended even when the machine is taken away mid-run (SIGTERM) or the budget ends.

`--dry-run` runs every check at tiny sizes on the CPU (tests/run.sh does, so it cannot rot); its
figures are the CPU's and the record says that no GPU figure was measured.

The wheels it needs (WHEELS) may be missing on a bare GPU machine without internet; carry them
(`python -m wan bench --gpu-check --carry-command` prints the pip download command for the
versions installed here, to run where there is internet) and install them there with
`pip install --no-index --find-links wheels/ wheels/*.whl` (benchmarks/gpu_check.sh does, given
WAN_WHEELS=wheels/).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

from ..errors import WanError
from .checks import Check, Context, registered
from .record import append_section, command, load_average, machine, versions

# The packages the checks import, beyond torch (which a GPU machine has): what each is for.
WHEELS: dict[str, str] = {
    "diffusers": "the Wan pipelines and hooks (every check)",
    "transformers": "the UMT5 text encoder, the CLIP image encoder",
    "accelerate": "model offloading, counting parameters",
    "tokenizers": "the tokenizer",
    "huggingface_hub": "diffusers' and transformers' loading code",
    "safetensors": "diffusers' and transformers' loading code",
    "ftfy": "WanPipeline's prompt cleaning",
    "numexpr": "the settings' schedules (the profile check)",
    "Pillow": "images (I2V, VACE conditioning)",
    "torchao": "fp8 compute (the fp8 check), int8_torchao weights (the weights check)",
    # 125 MB installed (its CUDA kernels), but the point of the weights check: carried
    "bitsandbytes": "NF4 and int8 weights (the weights check)",
    "gguf": "writing and reading GGUF files (the gguf check)",
    "peft": "LoRA adapters (the loras and lora_compile checks)",
    "opencv-python-headless": "interpolation and quality checks (the profile check's output stage)",
    "imageio-ffmpeg": "the MP4 (the profile check's output stage)",
    "spandrel": "image upscalers (the upscale check; it also needs the machine's torchvision)",
    "einops": "spandrel's architectures (the upscale check)",
}
# Only the profile check's output stage uses these, and they are large (OpenCV about 50 MB,
# imageio-ffmpeg about 30 MB with its ffmpeg): the carry command leaves them out unless asked.
OPTIONAL_WHEELS = ("opencv-python-headless", "imageio-ffmpeg")
DEFAULT_BUDGET = 540.0  # seconds: under ten minutes with the worker's start
DRY_RUN_BUDGET = 150.0
MARK = "@@wan-check "
EXTRA_MODULES = "WAN_CHECK_MODULES"  # more check modules to import, comma-separated (tests)


# -- the worker ----------------------------------------------------------------------------------


def _say(event: dict[str, Any]) -> None:
    sys.stdout.write(MARK + json.dumps(event) + "\n")
    sys.stdout.flush()


def _missing(check: Check) -> list[str]:
    import importlib.util

    return [name for name in check.needs if importlib.util.find_spec(name) is None]


def worker(dry_run: bool, facts: dict[str, Any]) -> int:
    """Run the checks this process's parent names on standard input, one per line, until 'quit'."""
    checks = registered(_extra_modules())
    import torch

    if not dry_run and not torch.cuda.is_available():
        _say({"event": "ready", "cuda": False})
        return 1
    context = Context(dry_run=dry_run, facts=facts)
    _say({"event": "ready", "cuda": torch.cuda.is_available()})
    for line in sys.stdin:
        name = line.strip()
        if name == "quit":
            break
        check = checks[name]
        started = time.perf_counter()
        missing = _missing(check)
        if missing:
            outcome = {
                "status": "skipped",
                "reason": f"needs {', '.join(missing)} (not installed)",
                "lines": [],
            }
        else:
            try:
                outcome = {"status": "ok", "lines": check.run(context)}
            except Exception as error:
                traceback.print_exc()
                outcome = {"status": "failed", "reason": _first_line(error), "lines": []}
        seconds = time.perf_counter() - started
        _say({"event": "done", "check": name, "seconds": seconds, "facts": context.facts, **outcome})
        _release()
    return 0


def _release() -> None:
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


def _first_line(error: BaseException) -> str:
    """The error on one line (a multi-line message joined), at most 300 characters."""
    return f"{type(error).__name__}: " + " ".join(str(error).split())[:300]


def _extra_modules() -> tuple[str, ...]:
    return tuple(filter(None, os.environ.get(EXTRA_MODULES, "").split(",")))


# -- the runner ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What became of one check."""

    check: Check
    status: str  # ok, failed, skipped, stopped
    seconds: float = 0.0
    lines: list[str] = field(default_factory=list)
    reason: str = ""


_LIVE: list[_Worker] = []  # the worker running now (stopped when this process is terminated)


class _Worker:
    """A worker process and a thread that reads its events."""

    def __init__(self, dry_run: bool, facts: dict[str, Any]) -> None:
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        arguments = [sys.executable, "-m", "wan.bench.gpu_check", "--worker", "--facts", json.dumps(facts)]
        self.process = subprocess.Popen(
            [*arguments, *(["--dry-run"] if dry_run else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,  # its own process group: stopping it stops its children too
        )
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        _LIVE.append(self)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(MARK):
                self.events.put(json.loads(line[len(MARK) :]))
            else:
                sys.stderr.write(line)  # what the libraries print goes with the worker's stderr
        self.events.put(None)

    def wait(self, seconds: float) -> dict[str, Any] | None:
        """The next event, None when the worker ended; TimeoutError after `seconds`."""
        try:
            return self.events.get(timeout=max(seconds, 0.0))
        except queue.Empty:
            raise TimeoutError from None

    def send(self, text: str) -> None:
        """A line to the worker."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(text + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def stop(self, *, wait: float = 5.0) -> None:
        """End the worker: quit if it listens, killed with its group if it does not."""
        if self in _LIVE:
            _LIVE.remove(self)
        self.send("quit")
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
            self.process.wait()


class CheckError(WanError):
    """A GPU check that cannot run as asked (no GPU, an unknown check); one line for the user."""


class NoGPU(CheckError):
    """The check was asked for on a machine without CUDA."""


def run_checks(
    checks: Iterable[Check],
    *,
    dry_run: bool,
    budget: float,
    report: Callable[[Outcome], None] = lambda outcome: None,
) -> list[Outcome]:
    """Run the checks in order within `budget` seconds (see the module doc)."""
    deadline = time.monotonic() + budget
    pending = list(checks)
    outcomes: list[Outcome] = []
    facts: dict[str, Any] = {}

    def finish(outcome: Outcome) -> None:
        outcomes.append(outcome)
        report(outcome)

    while pending:
        worker_process = _Worker(dry_run, facts)
        try:
            ready = worker_process.wait(deadline - time.monotonic())
            reason = "the worker ended before it was ready (see its messages above)"
        except TimeoutError:
            ready, reason = None, "the worker did not start within the budget"
        if ready is None:
            worker_process.stop()
            for check in pending:
                finish(Outcome(check, "skipped", reason=reason))
            break
        if not ready.get("cuda") and not dry_run:
            worker_process.stop()
            raise NoGPU("no CUDA GPU here: run with --dry-run to check the script on the CPU")
        while pending:
            check = pending[0]
            left = deadline - time.monotonic()
            if left < check.estimate(dry_run):
                pending.pop(0)
                finish(
                    Outcome(
                        check,
                        "skipped",
                        reason=f"the budget ran short ({check.estimate(dry_run):.0f} s usual, "
                        f"{left:.0f} s left)",
                    )
                )
                continue
            limit = min(check.limit(dry_run), left)
            worker_process.send(check.name)
            started = time.monotonic()
            try:
                event = worker_process.wait(limit)
            except TimeoutError:
                pending.pop(0)
                why = f"its {limit:.0f} s limit" if limit < left else f"the end of the budget ({limit:.0f} s)"
                finish(Outcome(check, "stopped", time.monotonic() - started, reason=f"stopped at {why}"))
                worker_process.stop(wait=0.1)  # it is busy: no use asking it to quit
                break  # a new worker takes the rest
            if event is None:  # the worker died (out of memory on the host, a crash in a kernel)
                pending.pop(0)
                code = worker_process.process.wait()
                died = f"the worker died (exit {code})"
                finish(Outcome(check, "failed", time.monotonic() - started, reason=died))
                worker_process.stop()
                break
            pending.pop(0)
            facts.update(event.get("facts") or {})
            lines = list(event.get("lines") or [])
            finish(Outcome(check, event["status"], float(event["seconds"]), lines, event.get("reason", "")))
        else:
            worker_process.stop()
    return outcomes


# -- the record ----------------------------------------------------------------------------------


def _title(outcome: Outcome) -> str:
    check = outcome.check
    if outcome.status == "ok":
        return f"### {check.name}: {check.title} ({outcome.seconds:.0f} s)"
    return f"### {check.name}: {check.title} — {outcome.status}: {outcome.reason}"


def header_lines(*, dry_run: bool, budget: float, gpu: str | None) -> list[str]:
    """The record's heading: date, machine, versions, command, budget."""
    what = (
        "dry run: tiny sizes on the CPU, no GPU figure"
        if dry_run
        else "one GPU, random weights at real sizes"
    )
    return [
        f"## GPU check ({what}) — {datetime.date.today()}",
        "",
        f"- machine: {machine(gpu)}; load average {load_average()}",
        f"- versions: {versions('torch', 'diffusers', 'transformers', 'accelerate', 'torchao')}",
        f"- command: `{command()}`",
        f"- budget: {budget:.0f} s",
    ]


def footer_lines(outcomes: list[Outcome], *, dry_run: bool, seconds: float) -> list[str]:
    """What ran, what did not, and whether GPU figures were measured."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    lines = ["", f"- took {seconds:.0f} s: {summary}"]
    if dry_run:
        lines.append("- GPU: unmeasured (a dry run on the CPU: its figures check the script, not a GPU)")
    return [*lines, ""]


def _gpu_name() -> str | None:
    """The first GPU's name from nvidia-smi (this process imports no torch), or None."""
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = done.stdout.strip().splitlines()[:1]
    return first[0].strip() if done.returncode == 0 and first else None


def carry_command(python_version: str | None = None, *, optional: bool = False) -> str:
    """The pip download command for WHEELS and what they need (torch and its CUDA libraries
    excepted: a GPU machine has its own; OPTIONAL_WHEELS unless asked), at the versions installed
    here."""
    wanted = [name for name in WHEELS if optional or name not in OPTIONAL_WHEELS]
    seen: dict[str, str] = {}
    skipped = {"torch", "triton"}
    while wanted:
        name = wanted.pop()
        key = name.lower().replace("_", "-")
        if key in seen or key in skipped or key.startswith("nvidia-"):
            continue
        try:
            found = distribution(name)
        except PackageNotFoundError:
            continue
        seen[key] = f"{found.metadata['Name']}=={found.version}"
        for requirement in found.requires or []:
            if "extra ==" in requirement:
                continue
            head = requirement.split(";")[0].strip()
            for stop in "<>=!~[ (":
                head = head.split(stop)[0]
            wanted.append(head)
    version = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    tag = version.replace(".", "")
    platforms = " ".join(f"--platform {p}" for p in ("manylinux_2_28_x86_64", "manylinux2014_x86_64"))
    return (
        f"pip download --no-deps --only-binary=:all: --python-version {version} --implementation cp "
        f"--abi cp{tag} --abi abi3 --abi none {platforms} -d wheels/ " + " ".join(sorted(seen.values()))
    )


def run_from_arguments(args: argparse.Namespace) -> int:
    """`python -m wan bench --gpu-check [--dry-run] [--budget S] [--checks a,b] [--results PATH]`."""
    checks = registered(_extra_modules())
    if args.list_checks:
        for check in checks.values():
            needs = f"; needs {', '.join(check.needs)}" if check.needs else ""
            timing = f"limit {check.seconds:.0f} s, usually {check.expected:.0f} s"
            print(f"{check.name:<16} {check.title} ({timing}{needs})")
        return 0
    if args.carry_command:
        print(carry_command())
        return 0
    chosen = list(checks.values())
    if args.checks:
        names = [n.strip() for n in args.checks.split(",") if n.strip()]
        unknown = [n for n in names if n not in checks]
        if unknown:
            raise CheckError(f"--checks: unknown {', '.join(unknown)}; known: {', '.join(checks)}")
        chosen = [checks[n] for n in checks if n in names]
    budget = args.budget or (DRY_RUN_BUDGET if args.dry_run else DEFAULT_BUDGET)
    results = None if args.results == "-" else Path(args.results or "benchmarks/RESULTS.md")
    gpu = None if args.dry_run else _gpu_name()
    lines = header_lines(dry_run=args.dry_run, budget=budget, gpu=gpu)
    print("\n".join(lines), flush=True)
    started = time.monotonic()
    written = {"done": False}
    outcomes: list[Outcome] = []

    def record() -> None:
        if written["done"]:
            return
        written["done"] = True
        footer = footer_lines(outcomes, dry_run=args.dry_run, seconds=time.monotonic() - started)
        print("\n".join(footer), flush=True)
        if results is not None:
            body = [line for outcome in outcomes for line in ["", _title(outcome), "", *outcome.lines]]
            append_section(results, [*lines, *body, *footer], echo=False)
            print(f"appended to {results}")

    def show(outcome: Outcome) -> None:
        outcomes.append(outcome)
        print("\n".join(["", _title(outcome), "", *outcome.lines]), flush=True)

    def on_term(_signum: int, _frame: Any) -> None:
        for live in list(_LIVE):
            live.stop(wait=0.5)
        outcomes.append(
            Outcome(Check("interrupted", "the machine was taken away", lambda c: [], 0, 0), "stopped")
        )
        record()
        raise SystemExit(143)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        run_checks(chosen, dry_run=args.dry_run, budget=budget, report=show)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if outcomes:
            record()
    return 0 if all(o.status in ("ok", "skipped") for o in outcomes) else 1


def main(argv: list[str] | None = None) -> int:
    """The worker's entry point (the runner starts it)."""
    parser = argparse.ArgumentParser(prog="python -m wan.bench.gpu_check")
    parser.add_argument("--worker", action="store_true", required=True)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--facts", default="{}")
    args = parser.parse_args(argv)
    return worker(args.dry_run, json.loads(args.facts))


if __name__ == "__main__":
    raise SystemExit(main())
