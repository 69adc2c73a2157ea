"""Fast R-CNN.

The same proposals, one feature map per image, ROI pooling, a classification and box head trained end to end.
"""
