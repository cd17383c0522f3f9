"""scrapeguard: measure, stop and prove the bulk harvesting of personal data."""

__version__ = "0.1.0"
