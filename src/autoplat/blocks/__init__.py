"""autoplat."""
