"""Proposal labelling by IoU and mini-batch sampling, with hand-worked IoUs."""

from __future__ import annotations

import numpy as np

from gunwatch.training.lineage.proposal_labels import (
    BACKGROUND,
    FOREGROUND,
    IGNORED,
    label_proposals,
    sample_minibatch,
    sample_training_rois,
    with_ground_truth,
)

GUN = np.array([[0, 0, 10, 10]], np.float32)
# IoUs with GUN: 1.0, 0.5 (10x5 inside), 0.25 (5x5 inside), 0.05 (5 x 1 inside), 0 (far away)
PROPOSALS = np.array([[0, 0, 10, 10], [0, 0, 10, 5], [0, 0, 5, 5], [0, 0, 5, 1], [50, 50, 60, 60]], np.float32)


def test_labels_by_iou_with_inclusive_foreground_and_half_open_background():
    got = label_proposals(PROPOSALS, GUN, fg_iou=0.5, bg_lo=0.1, bg_hi=0.5)
    np.testing.assert_allclose(got.iou, [1.0, 0.5, 0.25, 0.05, 0.0])
    np.testing.assert_array_equal(got.labels, [FOREGROUND, FOREGROUND, BACKGROUND, IGNORED, IGNORED])
    np.testing.assert_array_equal(got.matched, [0, 0, 0, 0, 0])
    svm = label_proposals(PROPOSALS, GUN, fg_iou=1.0, bg_lo=0.0, bg_hi=0.3)  # R-CNN's SVM: gt vs < 0.3
    np.testing.assert_array_equal(svm.labels, [FOREGROUND, IGNORED, BACKGROUND, BACKGROUND, BACKGROUND])


def test_each_proposal_matches_its_best_gun_and_gun_free_images_are_all_background():
    guns = np.array([[0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    np.testing.assert_array_equal(label_proposals(PROPOSALS, guns).matched, [0, 0, 0, 0, 1])
    free = label_proposals(PROPOSALS, np.zeros((0, 4)), bg_lo=0.1)
    np.testing.assert_array_equal(free.labels, [BACKGROUND] * 5)
    np.testing.assert_array_equal(free.matched, [-1] * 5)


def test_minibatch_takes_the_foreground_fraction_then_fills_with_background():
    labels = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1])
    chosen = sample_minibatch(labels, 8, 0.25, np.random.default_rng(0))
    assert len(chosen) == 8 and len(set(chosen.tolist())) == 8
    np.testing.assert_array_equal(labels[chosen], [1, 1, 0, 0, 0, 0, 0, 0])
    few = sample_minibatch(np.array([1, 0, 0, -1]), 8, 0.5, np.random.default_rng(0))
    np.testing.assert_array_equal(np.sort(few), [0, 1, 2])  # fewer than asked: all there is, none ignored
    lacking_fg = sample_minibatch(np.array([0] * 10), 4, 0.25, np.random.default_rng(0))
    assert len(lacking_fg) == 4  # background fills the foreground's share


def test_training_rois_join_the_ground_truth_and_carry_their_matched_gun():
    joined = with_ground_truth(PROPOSALS[2:], GUN)
    np.testing.assert_array_equal(joined[0], GUN[0])
    rois = sample_training_rois(PROPOSALS[2:], GUN, batch_size=4, fg_fraction=0.25,
                                rng=np.random.default_rng(0), fg_iou=0.5, bg_lo=0.0, bg_hi=0.5)
    # the ground truth is the only foreground; 3 background proposals fill the batch
    np.testing.assert_array_equal(rois.labels, [FOREGROUND, BACKGROUND, BACKGROUND, BACKGROUND])
    np.testing.assert_array_equal(rois.boxes[0], GUN[0])
    np.testing.assert_array_equal(rois.gt_boxes, [GUN[0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
