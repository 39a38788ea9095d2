"""The layers of docs/architecture.md: no package imports a package above it, and the front
process's packages import none of the heavy libraries."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "wan"
# docs/architecture.md, top to bottom
LAYERS = {
    "errors": 0,
    "locks": 0,
    "timebase": 0,
    "seeds": 0,
    "catalog": 1,
    "schedules": 1,
    "runtime": 1,
    "progress": 1,
    "config": 2,
    "models": 3,
    "movement": 4,
    "post": 4,
    "prompts": 4,
    "parallel": 4,
    "plan": 5,
    "render": 6,
    "service": 7,
    "bench": 7,
    "ui": 8,
    "cluster": 8,
    "webui": 9,
    "server": 9,
    "cli": 10,
    "__main__": 11,
}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) of every import of the project in a file, type checking excepted."""
    module_parts = path.relative_to(ROOT).with_suffix("").parts
    package_parts = list(module_parts if path.name == "__init__.py" else module_parts[:-1])
    if path.name == "__init__.py":
        package_parts = package_parts[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_lines(tree)
    found = []
    for node in ast.walk(tree):
        if node.lineno in skipped if hasattr(node, "lineno") else False:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            names = [target] if node.module or not node.level else [f"{target}.{a.name}" for a in node.names]
            found += [(node.lineno, name) for name in names if name.startswith("wan")]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("wan")]
    return found


def test_every_package_has_a_layer():
    packages = {
        p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if p.suffix == ".py" or p.is_dir()
    }
    packages -= {"__init__", "__pycache__", "data"}
    assert packages == set(LAYERS), packages ^ set(LAYERS)


def test_no_package_imports_one_above_it():
    backward = []
    for path in PACKAGE.rglob("*.py"):
        source = _package(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for line, target in imports_of(path):
            imported = _package(target)
            if imported not in LAYERS or imported == source or source in ("", "__init__"):
                continue  # the root package (wan.__version__), or within one package
            if LAYERS[imported] >= LAYERS[source]:
                backward.append(f"{path.relative_to(ROOT)}:{line} ({source}) imports {target} ({imported})")
    assert backward == []


def test_the_front_process_imports_no_heavy_library():
    code = (
        "import sys, wan.plan, wan.service, wan.service.router, wan.webui.extension, wan.server, wan.cli\n"
        "heavy = [m for m in ('torch', 'diffusers', 'transformers', 'cv2', 'gradio') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]"
