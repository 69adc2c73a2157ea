"""gunwatch: visual handgun detection for existing security cameras."""

__version__ = "0.1.0"

GUN_LABEL = "handgun"
