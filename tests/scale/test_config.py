"""Settings of a scaled-out Loupe: `loupe serve --ray` options, deploy/serve.yaml args, the autoscaling policy."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from loupe.cli import parser
from loupe.errors import LoupeError
from loupe.scale.cli import _autoscale, serve_ray_main
from loupe.scale.spec import ScaleSpec, from_args

ROOT = Path(__file__).resolve().parents[2]


def test_cli_options_reach_the_spec() -> None:
    args = parser().parse_args(["serve", "--ray", "--replicas", "3", "--model", "a,b", "--autoscale", "1:4"])
    assert args.ray and args.replicas == 3 and args.model == "a,b" and _autoscale(args.autoscale) == (1, 4)
    with pytest.raises(LoupeError, match="MIN:MAX"):
        _autoscale("4")


def test_sae_options_reach_every_replicas_spec(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`--sae` folders travel as absolute paths (replicas start elsewhere), hf:// as given; `--no-sae` too."""
    pytest.importorskip("ray.serve")
    got: list[ScaleSpec] = []
    monkeypatch.setattr("loupe.scale.run.serve_ray", lambda spec, address: got.append(spec) or 0)
    monkeypatch.chdir(tmp_path)
    argv = ["serve", "--ray", "--sae", "rel/sae:mine", "--sae", "hf://owner/repo/sub", "--sae", "plain"]
    assert serve_ray_main(parser().parse_args(argv)) == 0
    assert got[0].saes == (f"{tmp_path}/rel/sae:mine", "hf://owner/repo/sub", f"{tmp_path}/plain")
    assert got[0].shipped_sae is True
    serve_ray_main(parser().parse_args(["serve", "--ray", "--no-sae"]))
    assert got[1].saes == () and got[1].shipped_sae is False
    spec = from_args({"host": "127.0.0.1", "saes": ["/s/a:x"], "shipped_sae": False})
    assert spec.saes == ("/s/a:x",) and not spec.shipped_sae
    with pytest.raises(LoupeError, match="an SAE fits one model"):
        ScaleSpec(models=("a", "b"), saes=("/s/a",))


def test_serve_yaml_args_are_checked_and_a_public_bind_gets_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOUPE_TOKEN", raising=False)
    spec = from_args({"models": ["m1", "m2"], "replicas": 2, "limits": {"max_sessions": 5}})
    assert spec.models == ("m1", "m2") and spec.replicas == 2 and spec.limits.max_sessions == 5
    assert spec.host == "0.0.0.0" and spec.token is not None and len(spec.token) >= 16
    assert from_args({"host": "127.0.0.1"}).token is None
    with pytest.raises(LoupeError, match="unknown args \\['replica'\\]"):
        from_args({"replica": 2})
    with pytest.raises(LoupeError, match="unknown limit"):
        from_args({"limits": {"max_sesions": 5}})
    with pytest.raises(LoupeError, match="replicas"):
        ScaleSpec(replicas=0)
    with pytest.raises(LoupeError, match="autoscale"):
        ScaleSpec(autoscale=(3, 2))


def test_serve_yaml_builds_the_application() -> None:
    yaml = pytest.importorskip("yaml")
    pytest.importorskip("ray.serve")
    from ray.serve.schema import ServeDeploySchema

    from loupe.scale.app import app_builder

    config = yaml.safe_load((ROOT / "deploy" / "serve.yaml").read_text())
    assert ServeDeploySchema.model_validate(config).proxy_location == "Disabled"  # what `serve deploy` checks
    (app,) = config["applications"]
    assert app["import_path"] == "loupe.scale.app:app_builder"
    built = app_builder(app["args"])
    assert type(built).__name__ == "Application"


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (v1) is not installed")
def test_compose_ray_profile_runs_a_head_and_workers_from_one_image() -> None:
    env = {**os.environ, "LOUPE_REPLICAS": "3"}
    out = subprocess.run(
        ["docker-compose", "--profile", "ray", "config"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    services = yaml_load(out.stdout)["services"]
    head, worker = services["ray-head"], services["ray-worker"]
    assert head["image"] == worker["image"] == "loupe:ray" and head["build"]["args"]["LOUPE_EXTRAS"] == "[ray]"
    assert "loupe serve --ray --ray-address auto" in head["command"][-1] and "--replicas 3" in head["command"][-1]
    assert worker["command"][:4] == ["ray", "start", "--address", "ray-head:6379"]
    assert head["environment"]["RAY_AUTH_MODE"] == "token" and "RAY_AUTH_TOKEN" in worker["environment"]


def yaml_load(text: str) -> Any:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(text)


def policy_context(sessions: list[float], low: int, high: int, target: int) -> Any:
    return SimpleNamespace(
        aggregated_metrics={"sessions": dict(enumerate(sessions))},
        config=SimpleNamespace(target_ongoing_requests=target),
        capacity_adjusted_min_replicas=low,
        capacity_adjusted_max_replicas=high,
        policy_state={},
    )


def test_autoscaling_follows_open_sessions_within_bounds() -> None:
    pytest.importorskip("ray.serve")
    from loupe.scale.autoscale import sessions_policy

    assert sessions_policy(policy_context([8, 9], 1, 4, 8))[0] == 3  # 17 sessions, 8 each
    assert sessions_policy(policy_context([0, 0], 1, 4, 8))[0] == 1
    assert sessions_policy(policy_context([40, 40], 1, 4, 8))[0] == 4
