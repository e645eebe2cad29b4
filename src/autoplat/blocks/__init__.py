"""Blocks: the units of work of a graph.

``base`` defines the contract, ``registry`` builds the set of builtin blocks (imported only
then), ``convert`` holds the executor's lenient pin coercion, ``selftest`` runs each block's
own test vectors, and ``builtin/`` holds the blocks themselves, one module per concept.
"""
