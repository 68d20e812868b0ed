"""`loupe bench` is part of the package: what a wheel holds, and the command run without the checkout on sys.path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from setuptools import find_packages
from transformers import AutoModelForCausalLM

from loupe.bench.run import ENTRIES
from tests.conftest import tiny_config

ROOT = Path(__file__).resolve().parents[1]
BACKEND = ROOT / "backend"


def test_the_packaged_modules_hold_every_entry() -> None:
    """setuptools (pyproject: packages found under backend/) ships loupe.bench with a module per entry."""
    assert "loupe.bench" in find_packages(str(BACKEND))
    for name in (*ENTRIES, "run", "common", "headline", "plot"):
        assert (BACKEND / "loupe" / "bench" / f"{name}.py").is_file(), name


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package copied as an installation lays it out: a site directory holding `loupe/` and nothing of the
    checkout (no bench/, frontend/ or data/ around it). The shipped SAE's data is left out (not needed here)."""
    site = tmp_path_factory.mktemp("site-packages")
    shutil.copytree(BACKEND / "loupe", site / "loupe", ignore=shutil.ignore_patterns("__pycache__", "data"))
    return site


def loupe_cli(site: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`loupe ARGS` in a fresh interpreter that imports loupe from `site`, with the checkout nowhere on its path."""
    code = (
        "import sys, pathlib, loupe; root = sys.argv.pop(1)\n"
        "assert not pathlib.Path(loupe.__file__).resolve().is_relative_to(root), loupe.__file__\n"
        "from loupe.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    return subprocess.run(
        [sys.executable, "-c", code, str(ROOT.resolve()), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_bench_help_runs_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    done = loupe_cli(installed, ["bench", "--help"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "--quick" in done.stdout and "--model" in done.stdout


@pytest.fixture
def tiny_dir(tmp_path: Path, tokenizer: Any) -> Path:
    torch.manual_seed(0)
    hf = AutoModelForCausalLM.from_config(tiny_config("llama"), dtype=torch.float32)
    out = tmp_path / "tiny-llama"
    hf.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def test_a_quick_entry_runs_outside_the_checkout(installed: Path, tmp_path: Path, tiny_dir: Path) -> None:
    """`loupe bench --quick --only generation --model DIR` from a directory that is not the checkout: the
    results land in ./bench-results/ there (no bench/results/ beside the package)."""
    work = tmp_path / "work"
    work.mkdir()
    done = loupe_cli(installed, ["bench", "--quick", "--only", "generation", "--model", str(tiny_dir)], work)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = json.loads((work / "bench-results" / "latest.json").read_text())
    assert list(out["entries"]) == ["generation"] and out["model"] == "tiny-llama"
    ratio = out["entries"]["generation"]["ratio"]
    assert set(ratio) == {"hf_generate", "loupe_plain", "loupe_steered"} and ratio["hf_generate"] == 1.0
    assert out["command"].startswith("loupe bench --quick")
