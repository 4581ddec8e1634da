"""SpiceResult.from_columns (vectors as rows of one array) behaves as SpiceResult.build."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.spice.result import SpiceResult


@pytest.mark.parametrize("shape", [(), (5,)])
def test_columns_and_a_dict_give_the_same_result(shape):
    rng = np.random.default_rng(0)
    names = ["out", "v1#branch", "a", "x1.m", "b#branch"]
    data = rng.normal(size=(len(names), *shape))
    built = SpiceResult.build("op", dict(zip(names, data)), None, "native", "h")
    cols = SpiceResult.from_columns("op", names, data, None, "native", "h")
    assert list(cols.vectors) == list(built.vectors) == sorted(names)
    for k in names:
        assert np.array_equal(cols.vectors[k], built.vectors[k])
        assert cols.vectors[k].shape == shape
        assert not cols.vectors[k].flags.writeable
    assert np.array_equal(cols.v("x1.m"), built.v("x1.m"))
    assert np.array_equal(cols.i("V1"), built.i("V1"))
    assert np.array_equal(cols["V(out)"], built["V(out)"])
    assert cols.node_voltages.keys() == built.node_voltages.keys()
    assert cols.to_jsonable() == built.to_jsonable()
    assert "zz" not in cols.vectors and "a" in cols.vectors
    with pytest.raises(KeyError, match="no vector 'zz'"):
        cols["zz"]
    stacked = built.stacked()
    assert stacked.names == sorted(names)
    assert np.array_equal(stacked.data, cols.stacked().data)


def test_vectors_of_different_shapes_do_not_stack():
    r = SpiceResult.build("noise", {"onoise_spectrum": np.ones(3),
                                    "onoise_total": np.array(1.0)}, None)
    assert r.stacked() is None
