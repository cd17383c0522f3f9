"""What scrapeguard tells people: the terminal summary, JSON summaries, HTML reports."""
