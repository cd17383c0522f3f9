"""Scoring detection on labelled traffic: scrapeguard beside the tools most sites have."""

from scrapeguard.scoring.evaluate import evaluate

__all__ = ["evaluate"]
