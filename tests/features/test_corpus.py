"""The offline corpus builder: cleaning, deduplication, a stable held-out split, reading folders back."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from loupe.features import corpus


def test_rst_clean_keeps_prose_and_drops_markup() -> None:
    src = """.. _label:

Title
=====

Use :func:`len <builtins.len>` and ``x`` with :keyword:`!if`.

.. index::
   single: thing

After the directive.
"""
    out = corpus._rst_clean(src)
    assert "Use len and x with if." in out
    assert "After the directive." in out
    assert ".. " not in out and "=====" not in out and "single: thing" not in out


def _fake(texts: list[str]) -> tuple[str, object]:
    def read() -> Iterator[str]:
        yield from texts

    return ("fake-package", read)


def test_build_dedupes_splits_and_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = [f"Document number {i} says something long enough to keep." for i in range(400)]
    dupes = [docs[3], "  " + docs[3].upper() + "\n", docs[7]]  # same text up to case and spacing
    monkeypatch.setattr(corpus, "SOURCES", {"a": _fake(docs + dupes), "b": _fake(["too short", docs[9]])})

    class Tok:
        def __call__(self, text: str) -> dict[str, list[int]]:
            return {"input_ids": [0] * len(text.split())}

    m = corpus.build(tmp_path / "c", Tok(), sources=["a", "b"])
    a, b = m["sources"]["a"], m["sources"]["b"]
    assert a["duplicates"] == 3 and b["duplicates"] == 1  # docs[9] was already seen in source a
    assert a["train"][0] + a["heldout"][0] == 400
    assert 0 < a["heldout"][0] < 60  # about 5 %
    assert m["tokens"]["train"] + m["tokens"]["heldout"] == 400 * 9
    train = list(corpus.read_texts(tmp_path / "c" / "train"))
    held = list(corpus.read_texts(tmp_path / "c" / "heldout"))
    assert not set(train) & set(held) and len(train) + len(held) == 400
    assert json.loads((tmp_path / "c" / "manifest.json").read_text()) == m
    again = corpus.build(tmp_path / "d", Tok(), sources=["a"])  # the split is a function of the text
    assert again["sources"]["a"] == a
    assert list(corpus.read_texts(tmp_path / "d" / "heldout")) == held


def test_read_texts_reads_txt_and_jsonl_and_names_bad_lines(tmp_path: Path) -> None:
    (tmp_path / "one.txt").write_text("plain text")
    (tmp_path / "two.jsonl").write_text('{"text": "a"}\n\n{"text": "b"}\n')
    assert list(corpus.read_texts(tmp_path)) == ["plain text", "a", "b"]
    (tmp_path / "three.jsonl").write_text('{"text": "c"}\n{"body": 1}\n')
    with pytest.raises(ValueError, match=r"three\.jsonl:2"):
        list(corpus.read_texts(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"no \.txt or \.jsonl"):
        list(corpus.read_texts(tmp_path / "empty"))


@pytest.mark.skipif(shutil.which("bible") is None, reason="bible-kjv is not installed (make corpus installs it)")
def test_bible_has_every_chapter() -> None:
    chapters = list(corpus.bible())
    assert len(chapters) == 1189
    assert chapters[0].startswith("In the beginning God created the heaven and the earth. And the earth")
    assert chapters[-1].endswith("The grace of our Lord Jesus Christ be with you all. Amen.")


@pytest.mark.skipif(not corpus.FORTUNES.is_dir(), reason="fortunes is not installed (make corpus installs it)")
def test_fortunes_are_split_on_percent_lines() -> None:
    cookies = list(corpus.fortunes())
    assert len(cookies) > 5000
    assert not any(c.startswith("%") or "\n%\n" in c for c in cookies)


@pytest.mark.skipif(not (corpus.WORDNET / "data.adv").is_file(), reason="wordnet-base is not installed")
def test_wordnet_glosses_are_lemma_colon_gloss() -> None:
    first = next(corpus.wordnet_glosses())
    assert first.splitlines()[0].startswith("entity: that which is perceived or known")
    assert len(first.splitlines()) == 16
