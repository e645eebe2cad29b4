"""Test support: graph builders, test-only blocks and local stand-in servers (not shipped)."""
