"""Quality checks of a finished video: temporal consistency, flicker, seams at clip joins,
colour drift and broken frames, each on a documented scale with a warning threshold."""

from .checker import QualityChecker
from .report import METRICS, MetricSpec, QualityReport

__all__ = ["METRICS", "MetricSpec", "QualityChecker", "QualityReport"]
