"""Graphs of blocks: the model and everything about graphs that needs no database or HTTP.

``model`` (Graph/Node/Link), ``pins`` (dynamic pin names), ``importer`` (AutoGPT JSON in),
``subgraphs`` (sub-agent references, fresh ids), ``validation`` (save and run checks),
``schema`` (graph input/output JSON schemas), ``export`` (AutoGPT JSON out), ``catalog``
(well-known block ids, the block lookup protocol), ``typecheck`` (impossible links).
"""
