"""An offline English corpus built from Debian packages, cleaned, deduplicated and split train / held-out.

Sources (installed by `make corpus`): the Python 3 documentation's reStructuredText sources (python3-doc), the King
James Bible (bible-kjv), the fortune cookie files (fortunes) and WordNet's glosses (wordnet-base). Each source yields
documents; a document goes to the held-out split when a hash of its text says so, so the split is stable and
reproducible. The output folder holds train/SOURCE.jsonl, heldout/SOURCE.jsonl ({"text": ...} per line) and
manifest.json with document and token counts.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

PYDOC = Path("/usr/share/doc/python3.11/html/_sources")
FORTUNES = Path("/usr/share/games/fortunes")
WORDNET = Path("/usr/share/wordnet")
SKIP_FORTUNES = {"art", "ascii-art"}  # pictures, not prose
HELDOUT_PERCENT = 5
MIN_CHARS = 40


def _rst_clean(text: str) -> str:
    """reST source to plain text: drop directives, labels, heading rules and substitutions; unwrap roles."""
    out: list[str] = []
    in_directive = False
    for line in text.splitlines():
        if line.startswith(".. "):
            in_directive = True
            continue
        if in_directive and (line.startswith((" ", "\t")) or not line.strip()):
            if not line.strip():
                in_directive = False
            continue
        in_directive = False
        if re.fullmatch(r"\s*([=\-~^*#+\"'`:.])\1{3,}\s*", line):
            continue
        line = re.sub(r":[\w:+-]+:`!?~?([^`<]*?)(?:\s*<[^>]*>)?`", r"\1", line)  # :func:`name <target>` -> name
        line = re.sub(r"``([^`]*)``", r"\1", line)
        line = re.sub(r"`([^`<]*?)(?:\s*<[^>]*>)?`_{0,2}", r"\1", line)
        out.append(line.rstrip())
    return "\n".join(out)


def _paragraph_docs(text: str, max_chars: int = 2000) -> Iterator[str]:
    """Consecutive paragraphs packed into documents of about `max_chars`."""
    doc: list[str] = []
    size = 0
    for para in re.split(r"\n\s*\n", text):
        para = para.strip("\n")
        if not para.strip():
            continue
        doc.append(para)
        size += len(para)
        if size >= max_chars:
            yield "\n\n".join(doc)
            doc, size = [], 0
    if doc:
        yield "\n\n".join(doc)


def python_docs(root: Path = PYDOC) -> Iterator[str]:
    for path in sorted(root.rglob("*.rst.txt")):
        yield from _paragraph_docs(_rst_clean(path.read_text(encoding="utf-8", errors="replace")))


def bible(command: str = "bible") -> Iterator[str]:
    """One document per chapter, verse numbers removed."""
    text = subprocess.run([command, "-l100000", "gen1:1-rev22:21"], capture_output=True, text=True, check=True).stdout
    for chapter in re.split(r"\n\n(?=[1-3]? ?[A-Z][A-Za-z ]+ \d+\n)", text):
        lines = [ln.strip() for ln in chapter.strip().splitlines()[1:] if ln.strip()]
        verses = [re.sub(r"^\d+\s+", "", ln) for ln in lines]
        if verses:
            yield " ".join(verses)


def fortunes(root: Path = FORTUNES) -> Iterator[str]:
    for path in sorted(root.iterdir()):
        if path.suffix or path.is_symlink() or path.name in SKIP_FORTUNES or not path.is_file():
            continue
        for cookie in path.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
            yield cookie.strip("%\n")


def wordnet_glosses(root: Path = WORDNET, per_doc: int = 16) -> Iterator[str]:
    """ "lemma: gloss" lines from data.{noun,verb,adj,adv}, `per_doc` synsets a document."""
    for pos in ("noun", "verb", "adj", "adv"):
        lines: list[str] = []
        with open(root / f"data.{pos}", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(" ") or "|" not in line:
                    continue  # the licence header
                head, gloss = line.split("|", 1)
                lemma = head.split()[4].replace("_", " ")
                lines.append(f"{lemma}: {gloss.strip()}")
                if len(lines) == per_doc:
                    yield "\n".join(lines)
                    lines = []
        if lines:
            yield "\n".join(lines)


SOURCES: dict[str, tuple[str, Callable[[], Iterable[str]]]] = {
    "python-docs": ("python3-doc", python_docs),
    "bible-kjv": ("bible-kjv", bible),
    "fortunes": ("fortunes", fortunes),
    "wordnet": ("wordnet-base", wordnet_glosses),
}
PACKAGES = sorted(pkg for pkg, _ in SOURCES.values())


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _heldout(text: str) -> bool:
    digest = hashlib.sha256(_normalise(text).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HELDOUT_PERCENT


def build(out: Path | str, tokenizer: Any = None, sources: Iterable[str] = tuple(SOURCES)) -> dict[str, Any]:
    """Write the corpus to `out`; returns the manifest (also written to out/manifest.json)."""
    out = Path(out)
    seen: set[bytes] = set()
    manifest: dict[str, Any] = {"heldout_percent": HELDOUT_PERCENT, "sources": {}}
    for name in sources:
        package, read = SOURCES[name]
        counts: dict[str, list[int]] = {"train": [0, 0, 0], "heldout": [0, 0, 0]}  # docs, chars, tokens
        duplicates = 0
        files = {split: _open(out / split / f"{name}.jsonl") for split in ("train", "heldout")}
        try:
            for text in read():
                text = text.strip()
                key = hashlib.sha256(_normalise(text).encode()).digest()
                if len(text) < MIN_CHARS or key in seen:
                    duplicates += key in seen
                    continue
                seen.add(key)
                split = "heldout" if _heldout(text) else "train"
                files[split].write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
                row = counts[split]
                row[0] += 1
                row[1] += len(text)
                row[2] += len(tokenizer(text)["input_ids"]) if tokenizer is not None else 0
        finally:
            for f in files.values():
                f.close()
        manifest["sources"][name] = {"package": package, **counts, "duplicates": duplicates}
    totals = {s: sum(v[s][2] for v in manifest["sources"].values()) for s in ("train", "heldout")}
    manifest["tokens"] = totals
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def _open(path: Path) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "w", encoding="utf-8")


def read_texts(folder: Path | str) -> Iterator[str]:
    """Every document of a folder of .txt (one document a file) and .jsonl ({"text": ...} a line) files."""
    paths = sorted(p for p in Path(folder).rglob("*") if p.suffix in (".txt", ".jsonl"))
    if not paths:
        raise FileNotFoundError(f"no .txt or .jsonl files under {folder}")
    for path in paths:
        if path.suffix == ".txt":
            yield path.read_text(encoding="utf-8", errors="replace")
            continue
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        yield json.loads(line)["text"]
                    except (ValueError, KeyError, TypeError):
                        raise ValueError(f"{path}:{n}: expected a JSON object with a 'text' field") from None
