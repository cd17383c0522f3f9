"""Engines that evaluate one rule pack: `batch` over whole logs, `stream` event by event."""
