"""`scrapeguard eval`: score a decisions file and two baselines on the same labelled traffic."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from scrapeguard.decisions import Decision, read_decisions
from scrapeguard.scoring.baselines import BASELINES
from scrapeguard.scoring.data import load_labelled
from scrapeguard.scoring.score import Scorecard, score


def evaluate(data_dir: Path, decisions: Path | Sequence[Decision], *,
             tool: str = "scrapeguard", baselines: bool = True) -> list[Scorecard]:
    """Scorecards: the decisions given first, then each baseline scored in the same run."""
    con = load_labelled(Path(data_dir))
    ours = list(read_decisions(decisions)) if isinstance(decisions, Path) else list(decisions)
    cards = [score(con, ours, tool)]
    if baselines:
        for name, baseline in BASELINES.items():
            cards.append(score(con, baseline(con), name))
    return cards
