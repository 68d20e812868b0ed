"""examples/loupe_in_jupyter.ipynb runs top to bottom in a real kernel (nbclient), with the embedded model."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import loupe

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "loupe_in_jupyter.ipynb"
PROMPT = "When Mary and John went to the store, John gave a drink to"


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in cell.get("outputs", []))


def test_example_notebook_runs_and_matches_the_engine(smol: loupe.HookedModel) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env_path = os.pathsep.join(p for p in [str(NOTEBOOK.parents[1] / "backend"), os.environ.get("PYTHONPATH")] if p)
    os.environ["PYTHONPATH"] = env_path  # the kernel imports this checkout's loupe
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    try:
        client.execute()
    except Exception as e:  # a failing cell: show which
        pytest.fail(f"the example notebook failed: {e}")
    code = [c for c in nb.cells if c.cell_type == "code"]
    outputs = [_text(c) for c in code]

    def shows_widget(cell: nbformat.NotebookNode) -> bool:
        return any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cell.get("outputs", []))

    assert [shows_widget(code[i]) for i in (1, 4, 5)] == [True, True, True]  # the live widget, attention, tokens

    clean = smol.run(PROMPT)
    ablated = smol.run(PROMPT, interventions=[{"op": "ablate", "hook": "blocks.23.attn.hook_z", "head": 3}])
    mary, john = smol.tokenizer.encode(" Mary")[0], smol.tokenizer.encode(" John")[0]

    def diff(logits: object) -> float:
        last = logits[0, -1]  # type: ignore[index]
        return float(last[mary] - last[john])

    m = re.search(r"next token ' Mary' p=([\d.]+)\s+logit diff Mary-John ([-\d.]+)", outputs[2])
    assert m, outputs[2]
    assert float(m.group(2)) == pytest.approx(diff(clean.logits), abs=0.01)
    m = re.search(r"L23H3 ablated: logit diff ([-\d.]+) \(clean ([-\d.]+)\)", outputs[3])
    assert m, outputs[3]
    assert float(m.group(1)) == pytest.approx(diff(ablated.logits), abs=0.01)
    assert float(m.group(2)) == pytest.approx(diff(clean.logits), abs=0.01)
    assert float(m.group(1)) < float(m.group(2)) - 1
    assert outputs[-1].strip() == "[]"  # nothing alt-clicked in a headless run
