"""The installed package (not the checkout) finds its signatures: `pip install .` must ship them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NSCHECK_SIGNATURES" and k != "PYTHONPATH"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_console_script_and_module_find_shipped_signatures(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "nscheck"
    if not script.exists():
        pytest.skip("nscheck console script not installed in this environment")
    where = _run([sys.executable, "-c", "import nscheck; print(nscheck.__file__)"], tmp_path)
    assert where.returncode == 0, where.stderr
    lint = _run([str(script), "signatures", "lint"], tmp_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "advisories" in lint.stdout
    if "site-packages" in where.stdout:
        # A real (non-editable) install: the data must come from inside the wheel.
        assert "_signatures" in lint.stdout
    mod = _run([sys.executable, "-m", "nscheck", "assess", "14.1-43.56", "--format", "json"], tmp_path)
    assert mod.returncode in (0, 1), mod.stderr
    assert "CTX693420" in mod.stdout
