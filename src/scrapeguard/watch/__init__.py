"""`scrapeguard watch`: follow a log through rotation into the stream engine, exactly once.

`state` keeps where the follower is (which file, how far, how many events counted);
`follow` reads complete lines from a file that may be renamed or truncated under it;
`chunks` parses those lines with the same formats as `analyze`; `run` ties them together.
"""
