"""Decisions handed to the tools sites already enforce with: nginx, nftables, CrowdSec.

`source` reads decisions (a decisions file from `analyze`, or the journal `watch` appends)
into address bans, each with its expiry; one module per target writes or pushes them.
"""
