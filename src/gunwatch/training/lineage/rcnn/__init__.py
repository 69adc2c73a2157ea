"""R-CNN.

Selective search proposals, CNN features per warped proposal, a linear classifier and class-specific box regression.
"""
