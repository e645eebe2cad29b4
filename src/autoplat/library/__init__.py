"""The library's presets and shared runs: what a user keeps around their graphs.

Invariant: every preset and share is reached through its owner's id; another user's id
answers the same 404 as an id that does not exist.
"""
