"""R-CNN's box parameterisation: hand-worked deltas, the round trip, means / stds and the exp clip."""

from __future__ import annotations

import math

import numpy as np

from gunwatch.inference.lineage.box_coding import MAX_LOG_SCALE, clip_boxes, decode, encode

PROPOSAL = np.array([[10, 20, 30, 60]], np.float32)  # centre (20, 40), size 20 x 40
TARGET = np.array([[15, 10, 55, 50]], np.float32)  # centre (35, 30), size 40 x 40


def test_encode_is_the_papers_parameterisation():
    # dx = (35 - 20) / 20, dy = (30 - 40) / 40, dw = log(40 / 20), dh = log(40 / 40)
    np.testing.assert_allclose(encode(PROPOSAL, TARGET), [[0.75, -0.25, math.log(2), 0.0]], rtol=1e-6)
    np.testing.assert_array_equal(encode(PROPOSAL, PROPOSAL), [[0, 0, 0, 0]])


def test_means_and_stds_normalise_the_deltas():
    stds = (0.1, 0.1, 0.2, 0.2)
    got = encode(PROPOSAL, TARGET, means=(0.05, 0, 0, 0), stds=stds)
    np.testing.assert_allclose(got, [[7.0, -2.5, math.log(2) / 0.2, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(decode(PROPOSAL, got, means=(0.05, 0, 0, 0), stds=stds), TARGET, atol=1e-4)


def test_decode_inverts_encode_on_random_boxes():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 500, (200, 2))
    proposals = np.concatenate([xy, xy + rng.uniform(4, 300, (200, 2))], axis=1).astype(np.float32)
    xy = rng.uniform(0, 500, (200, 2))
    targets = np.concatenate([xy, xy + rng.uniform(4, 300, (200, 2))], axis=1).astype(np.float32)
    np.testing.assert_allclose(decode(proposals, encode(proposals, targets)), targets, atol=1e-3)
    np.testing.assert_allclose(encode(proposals, decode(proposals, encode(proposals, targets))),
                               encode(proposals, targets), atol=1e-4)


def test_decode_moves_a_box_by_hand_and_clips_a_wild_scale():
    np.testing.assert_allclose(decode(PROPOSAL, [[0.75, -0.25, math.log(2), 0.0]]), TARGET, atol=1e-5)
    wild = decode(PROPOSAL, [[0, 0, 100.0, 0]])
    assert np.isfinite(wild).all()
    np.testing.assert_allclose(wild[0, 2] - wild[0, 0], 20 * math.exp(MAX_LOG_SCALE), rtol=1e-5)


def test_clip_boxes_to_the_image():
    np.testing.assert_array_equal(clip_boxes([[-5, -1, 70, 30]], 64, 48), [[0, 0, 64, 30]])
