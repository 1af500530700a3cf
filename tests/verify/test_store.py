"""Claim data is saved as JSON + NPZ and read back exactly; no pickle is ever read."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from verify.store import load_data, save_data

_leaf = st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=False), st.text(max_size=5), st.none(),
                  st.booleans())
_tree = st.recursive(_leaf, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                   st.dictionaries(st.text(max_size=4), kids, max_size=3)),
                     max_leaves=10)


@given(tree=st.dictionaries(st.text(max_size=4), _tree, max_size=4),
       arr=hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=4)))
def test_round_trip(tmp_path_factory, tree, arr):
    stem = tmp_path_factory.mktemp("d") / "X.data"
    save_data(stem, {"tree": tree, "arr": arr, "nan": math.nan, "inf": -math.inf})
    back = load_data(stem)
    assert back["tree"] == tree
    np.testing.assert_array_equal(back["arr"], arr)
    assert back["arr"].dtype == arr.dtype and math.isnan(back["nan"]) and back["inf"] == -math.inf


def test_object_arrays_and_unknown_types_are_refused(tmp_path):
    with pytest.raises(ValueError, match="object"):
        save_data(tmp_path / "a", {"x": np.array([{}, 1], dtype=object)})
    with pytest.raises(ValueError, match="cannot store"):
        save_data(tmp_path / "b", {"x": object()})


@pytest.mark.parametrize("content", [b"", b"{", b"\x00\xff", b"[]", b"null", b'{"format": 1}'])
def test_damaged_files_are_one_line_errors(tmp_path, content):
    (tmp_path / "X.data.json").write_bytes(content)
    with pytest.raises(ValueError, match="X.data.json"):
        load_data(tmp_path / "X.data")


def test_a_pickled_npz_is_not_loaded(tmp_path):
    save_data(tmp_path / "X.data", {"a": np.arange(3.0)})
    np.savez(tmp_path / "X.data.npz", a=np.array([{"evil": 1}], dtype=object))   # a pickled payload
    with pytest.raises(ValueError, match="X.data.json"):
        load_data(tmp_path / "X.data")
