"""`python -m scrapeguard ...`: the same commands as the `scrapeguard` script, for a venv
whose scripts directory is not on PATH."""

from scrapeguard.cli import run

run()
