"""`gunwatch bench alarms` (or `gunwatch eval`) with the localizer's whole-image opinion on the shipped pair
(`inference/image_opinion.py`; verifier card, "Tried"). The arguments are the command's own:

    python scripts/image_opinion_alarms.py bench alarms --clips ../shared/videos --phases 3 --thresholds 0.85,0.9,0.95
    python scripts/image_opinion_alarms.py eval --data ../shared/datasets/PistolData_merged --split val
"""
import sys

import gunwatch.bench.alarms
import gunwatch.cli
from gunwatch.inference import loading
from gunwatch.inference.image_opinion import ImageOpinionDetector

real_load_detector = loading.load_detector


def with_opinion(*args, **kwargs):
    """The detector `gunwatch` would load, its top gun box per image (tile, crop) raised by the localizer."""
    return ImageOpinionDetector(real_load_detector(*args, **kwargs), real_load_detector(loading.SHIPPED_LOCALIZER))


loading.load_detector = with_opinion  # `gunwatch eval` imports it from here when it runs
gunwatch.bench.alarms.load_detector = with_opinion  # the alarm bench imported it at its own import
gunwatch.cli.app(sys.argv[1:])
