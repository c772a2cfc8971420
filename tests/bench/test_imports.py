"""The benchmarks and the harness they share with the tests never import the test suite."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_bench_and_harness_do_not_import_tests() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] == "tests"
        )
        for folder in ("bench", "harness")
        for path in (ROOT / folder).rglob("*.py")
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}
    assert "harness.image" in imported_modules(ROOT / "bench" / "image.py")
