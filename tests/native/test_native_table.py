"""Node numbering and the distinct-string search of cosim.native.table, against Python's
dictionary order (``dict.fromkeys``), including when two strings share a hash."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.native import table
from cosim.native.table import all_distinct, distinct_strings, number_nodes


def _reference(terminals: list[str]) -> tuple[list[str], list[int]]:
    names = [n for n in dict.fromkeys(terminals) if n != "0"]
    index = {n: k for k, n in enumerate(names)}
    return names, [index.get(t, len(names)) for t in terminals]


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("kind", ["U", "S"])
def test_numbering_is_first_appearance_with_ground_last(seed, kind):
    rng = np.random.default_rng(seed)
    pool = [f"n{k}" for k in range(int(rng.integers(1, 30)))] + ["0", "x.y", "N_1"]
    terminals = [pool[i] for i in rng.integers(0, len(pool), int(rng.integers(1, 80)))]
    names, index = number_nodes(np.array(terminals).astype(kind))
    ref_names, ref_index = _reference(terminals)
    assert [n.decode() if kind == "S" else n for n in names.tolist()] == ref_names
    assert index.tolist() == ref_index


def test_numbering_without_ground_and_of_nothing():
    names, index = number_nodes(["b", "a", "b"])
    assert names.tolist() == ["b", "a"] and index.tolist() == [0, 1, 0]
    names, index = number_nodes([])
    assert names.size == 0 and index.size == 0


def test_strings_that_share_a_hash_are_still_told_apart(monkeypatch):
    """With every hash equal, the answer comes from comparing the strings themselves."""
    monkeypatch.setattr(table, "_string_hash",
                        lambda arr: np.zeros(arr.size, dtype=np.uint64))
    terminals = ["a", "0", "b", "a", "c", "b", "0"]
    names, index = number_nodes(np.array(terminals))
    assert (names.tolist(), index.tolist()) == _reference(terminals)
    first, inverse = distinct_strings(np.array(["x", "y", "x"]))
    assert sorted(first.tolist()) == [0, 1]
    assert [["x", "y", "x"][first[k]] for k in inverse] == ["x", "y", "x"]
    assert all_distinct(np.array(["p", "q", "r"]))
    assert not all_distinct(np.array(["p", "q", "p"]))
