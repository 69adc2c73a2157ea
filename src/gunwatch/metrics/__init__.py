"""Evaluation metrics for the single "handgun" class.

- ``iou``: pairwise box IoU and the (corrected) course-notebook mean best IoU.
- ``coco_map``: COCO mAP@0.5 / mAP@[.5:.95] and size-bin APs via pycocotools.
- ``operating``: precision/recall/F1 and image-level alarm rates at one score threshold,
  the PR curve over all thresholds, and choosing a threshold for a target image false-alarm rate.
- ``worst``: picking the worst misses and false alarms for a gallery.
- ``plots``: PR curve and detection gallery PNGs (matplotlib, Agg backend).

Every function takes per-image ground truth as (N, 4) xyxy pixel arrays and per-image predictions as
``(boxes_xyxy, scores)`` pairs (anything with ``.xyxy`` and ``.scores``, such as ``Detections``, works too).
"""
