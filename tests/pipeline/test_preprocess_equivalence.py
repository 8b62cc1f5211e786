"""preprocess() returns bit for bit the tensors it returned before the lookup-table scaling (commit 850b01c).

The INT8 calibration cache key holds ``PREPROCESS_VERSION`` instead of the pixels: a change in any
bit of the network input must bump it. These frozen digests of the previous implementation's
tensors (frames built by integer arithmetic, no random stream) fail on any such change.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from harness.pipeline import preprocess as pre


def frame(h: int, w: int) -> np.ndarray:
    """A deterministic BGR uint8 frame: smooth gradients (what resizing averages) plus a sharp pattern."""
    i, j = np.meshgrid(np.arange(h, dtype=np.int64), np.arange(w, dtype=np.int64), indexing="ij")
    planes = [(i * 255) // max(h - 1, 1), (j * 255) // max(w - 1, 1), (i * 7919 + j * 104729 + (i * j) % 97) % 256]
    return np.stack(planes, 2).astype(np.uint8)


SHAPES = [(288, 384), (384, 288), (320, 320), (97, 131), (1, 500), (480, 640), (720, 1280)]
SIZES = [320, (256, 320)]
DTYPES = ["float32", "float16"]

# Frozen from the implementation at commit 850b01c: "HxW size dtype" -> (sha256 of the tensor's bytes,
# pad_left, pad_top).
EXPECTED = {
    '288x384 320 float32': ('003852885479eb9dcc7dcb1f1b37aa9eb8d7401deac508809a15c27fe699485e', 0, 40),
    '288x384 320 float16': ('3253ecf299376e3cb28e04b7d91115ddb5bd6cd9b79b0232ca90187b39996200', 0, 40),
    '288x384 (256, 320) float32': ('5e86557255d4a8a03127678afa4a4b2b8f7eda25ffb7a6e90c79ecc237801dc6', 0, 8),
    '288x384 (256, 320) float16': ('e740b1b632b6e11e753531d012679f5bcabc863fafb1d094062aa8d94b1e426a', 0, 8),
    '384x288 320 float32': ('c65a8fa7d29394e965d8d24cfe587f96cf8b678e808ec905b6a571b5fd832bdf', 40, 0),
    '384x288 320 float16': ('97bb2fd2983c91f74aaa926dc9723840f20ad209787da205668913c919407564', 40, 0),
    '384x288 (256, 320) float32': ('bca0112c31b6d629d4485320731e0bf85159e41a0080911ee1e710fed9f8748b', 64, 0),
    '384x288 (256, 320) float16': ('02e7a022eb13873338bf2142810eb68a8ae5f70937c733cc634ab3c784218ad6', 64, 0),
    '320x320 320 float32': ('4f0728c64f7b4f093e567d817beafb6eb9f034c3cc52d5954600a48cc411c844', 0, 0),
    '320x320 320 float16': ('b9b8981e2cf64c4ca68daaec8b7326d662de00bacf8457474d8c0cda3f9659ea', 0, 0),
    '320x320 (256, 320) float32': ('b8fba58e79d814c522e0053bc58e724e032bb417cf031221fa06330395e04253', 32, 0),
    '320x320 (256, 320) float16': ('0ee8d8cd745de5d6984311b31e3faebe131fba7dc984c55f5fc998d797b61bb7', 32, 0),
    '97x131 320 float32': ('d8114002bbf80272a1ac776bbfcc945a46f59577c41c305706fb303e9c870b08', 0, 41),
    '97x131 320 float16': ('4aa7f75f55355b399eac3a1f1edd5ac2de58cc9e42fd3dc326eebc136edef171', 0, 41),
    '97x131 (256, 320) float32': ('0fd23943abafbe88279177efc8dbe9036f8688114df3056ef83f4b4ba598e3c1', 0, 9),
    '97x131 (256, 320) float16': ('04294a75995fc293b99da5e8f2fa7b40292c8c81310ee4651ed5e54ab1ace306', 0, 9),
    '1x500 320 float32': ('efca59bed7fc6a7b009ea63d790584c14a5dbc78fcc1bf6c482eb21dcb509653', 0, 159),
    '1x500 320 float16': ('ef3137955419b60348b6dee3f749f7c85f290f1c2ddb1104798eccb54710e16f', 0, 159),
    '1x500 (256, 320) float32': ('6312e77e24ef8f6839c1d3d86385c16bb328c26325bba2fb106ab9b39171013b', 0, 127),
    '1x500 (256, 320) float16': ('2599683d525b3f4b0ac51e0b6d4d2d05ee785c566e39573d49c89052616614bd', 0, 127),
    '480x640 320 float32': ('fafcc166e026242e2d8ea94d8210b24c02a6b53baae300cc1ff94eba96c59d42', 0, 40),
    '480x640 320 float16': ('be01fd6a12a000060860a2ca030526d9007810a2929253bab1b65a8246caa508', 0, 40),
    '480x640 (256, 320) float32': ('d512b169fc533485fb7829f720692a0593f57a3ae4662a53dfd646cc4c80d1f9', 0, 8),
    '480x640 (256, 320) float16': ('10b87ff859e0bf108f3e1dab45c1c1a762b42feb53b7508540ec0e53c1a906fc', 0, 8),
    '720x1280 320 float32': ('774dc37b93911eab515096d4cbd6678e41f3f902d4cb91bb7292b8145973be40', 0, 70),
    '720x1280 320 float16': ('92a5c046cb0e4c9fcc7434873ef47496e7e84a162eddc304944fcf8b660a77fd', 0, 70),
    '720x1280 (256, 320) float32': ('5af80417850d50293748b508678485f76f7e4f7a3e951d36f7b79ce05f22a64a', 0, 38),
    '720x1280 (256, 320) float16': ('1d8ce275a6d4ada7d9a9c9a656de0f5901f79ad46f42b0fb892977a91bddcb2d', 0, 38),
}


def key(shape, size, dtype) -> str:
    return f"{shape[0]}x{shape[1]} {size} {dtype}"


@pytest.mark.parametrize("shape", SHAPES)
def test_tensors_are_unchanged(shape):
    img = frame(*shape)
    for size in SIZES:
        for dtype in DTYPES:
            x, info = pre.preprocess(img, size, np.dtype(dtype).type)
            assert x.dtype == np.dtype(dtype) and x.flags["C_CONTIGUOUS"]
            got = (hashlib.sha256(x.tobytes()).hexdigest(), info.pad_left, info.pad_top)
            assert got == EXPECTED[key(shape, size, dtype)], key(shape, size, dtype)


def test_preprocess_version_is_still_1():
    # the digests above are of version 1's pixels: a new version needs new digests, and says so here
    assert pre.PREPROCESS_VERSION == 1


def test_scaled_table_is_the_division_and_read_only():
    for dtype in (np.float16, np.float32, np.float64):
        table = pre._scaled_table(np.dtype(dtype))
        want = np.arange(256, dtype=np.uint8) / np.dtype(dtype).type(255)
        assert table.dtype == want.dtype and table.tobytes() == want.tobytes()
        with pytest.raises(ValueError):
            table[0] = 1
