"""numerics.rng: Philox4x32-10 against the Random123 known answers, the C fill against the numpy reference bit for
bit, the Box-Muller transform against float64 arithmetic, the law of the draws, and the state round trip."""
import io
import math
import pickle

import numpy as np
import pytest
import torch
from scipy import stats

from numerics import native, rng
from numerics.rng import Philox, fill_reference

NEEDS_C = pytest.mark.skipif(native.philox_function() is None, reason="no C compiler: the numpy reference runs")

#: Random123's kat_vectors, "philox4x32 10": counter (4 words), key (2 words), expected output (4 words)
KAT = [((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
       ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
       ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]


@pytest.mark.parametrize("ctr,key,want", KAT)
def test_philox_matches_the_published_known_answers(ctr, key, want):
    got = rng.philox4x32_10(np.array(ctr, dtype=np.uint32)[:, None], key)[:, 0]
    assert [int(v) for v in got] == list(want)


def _c_fill(law, key, block, n):
    out = np.empty(n, dtype=np.float32)
    native.philox_function()(law, key, block, n, out.ctypes.data)
    return out


@NEEDS_C
def test_c_block_zero_is_the_known_answer():
    """Key 0, block 0 is the first known answer; uniform t of a group is word t of block 0 (word-major layout)."""
    u = _c_fill(1, 0, 0, 64)
    assert [int(u[16 * t] * 2**24) for t in range(4)] == [w >> 8 for w in KAT[0][2]]


@NEEDS_C
@pytest.mark.parametrize("key,block,n", [(0, 0, 1), (123, 0, 64), (5, 16, 1000), (2**64 - 1, 2**32 - 48, 5000),
                                         (0xDEADBEEF12345678, 7 * 2**40, 333)])
@pytest.mark.parametrize("law", [0, 1])
def test_c_fill_is_the_numpy_reference_bit_for_bit(law, key, block, n):
    """Including a counter that crosses 2^32 (the second counter word) and fills that end inside a group."""
    assert np.array_equal(_c_fill(law, key, block, n).view(np.uint32),
                          fill_reference(law, key, block, n).view(np.uint32))


@NEEDS_C
def test_the_numbers_do_not_depend_on_the_build(tmp_path):
    """Baseline x86-64 (SSE2, 8 blocks per pass) and this CPU (-march=native) give the same bits."""
    outs = []
    for extra in ((), ("-march=native",)):
        lib = tmp_path / f"lib{len(extra)}.so"
        assert native.compile_library(lib, native.FLAGS + extra).returncode == 0
        fn = native.load_philox(lib)
        out = np.empty(10_000, dtype=np.float32)
        fn(0, 99, 32, out.size, out.ctypes.data)
        outs.append(out.view(np.uint32).copy())
    assert np.array_equal(*outs)


def test_box_muller_is_exact_up_to_float32_rounding():
    """Each normal against float64 sqrt(-2 ln u1) cos/sin(2 pi v) of the same words: the float32 steps (Cephes
    logf and sin/cos polynomials, about 1 ulp each, and ~10 roundings) stay within 2e-6 relative, 1e-6 absolute."""
    key, groups = 2024, 2000
    w = rng._words(key, 0, groups).astype(np.float64)            # (groups, 4, 16)
    z = fill_reference(0, key, 0, groups * 64).reshape(groups, 4, 16).astype(np.float64)
    for p in range(2):
        u1 = (np.floor(w[:, 2 * p] / 256) + 1) * 2.0**-24
        v = np.floor(w[:, 2 * p + 1] / 32) * 2.0**-27
        r = np.sqrt(-2 * np.log(u1))
        for got, want in ((z[:, 2 * p], r * np.cos(2 * np.pi * v)), (z[:, 2 * p + 1], r * np.sin(2 * np.pi * v))):
            assert np.all(np.abs(got - want) <= 2e-6 * np.abs(want) + 1e-6)


@pytest.fixture(scope="module")
def normals():
    return Philox(20261203).normal_(torch.empty(2_000_000)).double().numpy()


def test_normal_law(normals):
    """Kolmogorov-Smirnov against N(0, 1) and the first four moments within 5 standard errors (fixed seed)."""
    n = normals.size
    assert stats.kstest(normals, "norm").pvalue > 1e-3
    for k, m in ((1, 0.0), (2, 1.0), (3, 0.0), (4, 3.0)):
        x = normals**k
        assert abs(x.mean() - m) < 5 * x.std() / math.sqrt(n), k
    assert np.abs(normals).max() <= math.sqrt(48 * math.log(2)) + 1e-6


def test_pairs_neighbours_and_streams_are_uncorrelated(normals):
    """The cos and sin of one pair, neighbouring numbers, and two streams with adjacent keys: every correlation
    within 5 standard errors (1/sqrt(n)) of 0; for the pair also the squares (Box-Muller's r is shared)."""
    z = normals.reshape(-1, 4, 16)
    c, s = z[:, 0].ravel(), z[:, 1].ravel()
    other = Philox(20261204).normal_(torch.empty(normals.size)).double().numpy()
    for a, b in ((c, s), (normals[:-1], normals[1:]), (normals, other)):
        assert abs(np.corrcoef(a, b)[0, 1]) < 5 / math.sqrt(a.size)
    assert abs(np.corrcoef(c**2, s**2)[0, 1]) < 5 / math.sqrt(c.size)


def test_uniform_law():
    u = Philox(3).uniform_(torch.empty(1_000_000)).double().numpy()
    assert u.min() >= 0 and u.max() < 1 and np.all(u * 2**24 == np.floor(u * 2**24))
    assert stats.kstest(u, "uniform").pvalue > 1e-3


def test_state_round_trip_resumes_bit_identically():
    g = Philox(11)
    g.normal_(torch.empty(100))
    buf = io.BytesIO()
    torch.save(g.get_state(), buf)                      # loadable with weights_only
    after = g.normal_(torch.empty(37)).clone()
    buf.seek(0)
    h = Philox(0)
    h.set_state(torch.load(buf, weights_only=True))
    assert torch.equal(h.normal_(torch.empty(37)), after)
    assert g.get_state().tolist() == h.get_state().tolist() == [11, 0, 48]   # 100, then 37 numbers: 2 + 1 groups


def test_a_pickled_generator_continues_the_stream():
    g = Philox(12)
    g.normal_(torch.empty(70))
    h = pickle.loads(pickle.dumps(g))
    assert torch.equal(h.normal_(torch.empty(9)), g.normal_(torch.empty(9)))


def test_buffers_of_any_layout_and_float64_are_the_float32_draws():
    a = Philox(5).normal_(torch.empty(3, 40))
    b = Philox(5).normal_(torch.empty(40, 3).T)             # not contiguous: filled in its own (row-major) order
    c = Philox(5).normal_(torch.empty(3, 40, dtype=torch.float64))
    assert torch.equal(a, b) and torch.equal(a.double(), c)


def test_without_the_c_library_the_numbers_are_the_same(monkeypatch):
    want = Philox(8).normal_(torch.empty(500))
    monkeypatch.setattr(native, "philox_function", lambda: None)
    assert torch.equal(Philox(8).normal_(torch.empty(500)), want)


def test_bad_input_is_a_one_line_error():
    with pytest.raises(ValueError, match="seed"):
        Philox(-1)
    with pytest.raises(ValueError, match="int64 tensor of shape"):
        Philox(1).set_state(torch.zeros(5, dtype=torch.uint8))
    with pytest.raises(ValueError, match="not a Philox state"):
        Philox(1).set_state(torch.tensor([-1, 0, 0]))
