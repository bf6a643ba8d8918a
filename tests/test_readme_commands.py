"""README's test command works right after README's install command on a fresh machine, and
.ci/run runs exactly those commands (issue 13)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _norm(cmd: str) -> str:
    cmd = re.sub(r"^python3? -m pip ", "pip ", cmd.strip())
    return re.sub(r" --quiet| -q(?= )", "", cmd)


def readme_test_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("Run the tests", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.strip().splitlines() if line.strip() and not line.startswith("#")]


def test_readme_installs_what_its_test_command_needs() -> None:
    cmds = readme_test_commands()
    installs = [c for c in cmds if c.startswith("pip install")]
    assert installs and re.search(r"\.\[[^\]]*\btest\b", installs[0]), cmds
    assert cmds[-1].startswith("python -m pytest")
    assert cmds.index(installs[0]) < len(cmds) - 1  # the install comes first


def test_ci_runs_the_readme_commands() -> None:
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.strip().startswith("#")]
    ci_norm = [_norm(c) for c in ci]
    for cmd in readme_test_commands():
        assert _norm(cmd) in ci_norm, (cmd, ci)


def test_every_third_party_import_of_the_tests_is_in_the_test_install() -> None:
    """What `pip install ".[test,yara]"` brings is all the tests import (or importorskip)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-") for d in project["dependencies"]}
    for extra in ("test", "yara"):
        wanted |= {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-")
                   for d in project["optional-dependencies"][extra]}
    dists = metadata.packages_distributions()
    local = {p.stem for p in (ROOT / "tests").glob("*.py")} | {"nscheck", "tests"}
    missing: dict[str, str] = {}
    for path in (ROOT / "tests").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skippable = {n.args[0].value for n in ast.walk(tree) if isinstance(n, ast.Call)
                     and getattr(n.func, "attr", "") == "importorskip" and n.args and isinstance(n.args[0], ast.Constant)}
        # imports guarded by `try: ... except ImportError` are optional by construction
        guarded = {id(n) for t in ast.walk(tree) if isinstance(t, ast.Try)
                   and any("ImportError" in ast.unparse(h.type or ast.Name("BaseException")) for h in t.handlers)
                   for stmt in t.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if id(node) in guarded:
                continue
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            for name in names:
                top = name.split(".")[0]
                if top in local or top in sys.stdlib_module_names or top in skippable:
                    continue
                owners = {d.lower().replace("_", "-") for d in dists.get(top, [])}
                if not owners & wanted:
                    missing[top] = path.name
    assert not missing, f"imported by the tests but not installed by README's command: {missing}"
