"""Benchmarks of the execution engine: ``python -m bench --database sqlite|postgresql``."""
