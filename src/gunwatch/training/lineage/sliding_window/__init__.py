"""Sliding windows + NMS.

A gun / no-gun window classifier on the localizer's backbone, run convolutionally over an image pyramid.
"""
