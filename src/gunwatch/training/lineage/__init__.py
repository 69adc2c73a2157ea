"""The course's detector lineage (issue 15), trained on the same gun data as the production detector.

One sub-package per method: `sliding_window`, `rcnn`, `fast_rcnn`, `faster_rcnn`. Each has a `config`
module (its `gunwatch train` settings) and a `train` module whose `train_and_export(config, resume)` writes
the run folder and returns the exported ONNX model (`gunwatch eval` and `gunwatch bench` measure it).
"""

# model name in the training config -> the sub-package that trains it
TRAINERS: dict[str, str] = {
    "sliding-window": "gunwatch.training.lineage.sliding_window.train",
    "rcnn": "gunwatch.training.lineage.rcnn.train",
    "fast-rcnn": "gunwatch.training.lineage.fast_rcnn.train",
    "faster-rcnn": "gunwatch.training.lineage.faster_rcnn.train",
}
