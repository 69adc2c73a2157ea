"""Faster R-CNN.

A region proposal network with anchors and the detection head, four losses, trained end to end.
"""
