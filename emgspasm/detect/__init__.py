"""Detection of spasms and fasciculations: the Detector and its parts."""

from .detector import Detector, QualitySegment

__all__ = ["Detector", "QualitySegment"]
