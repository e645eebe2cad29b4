"""Users' files: uploads and what block runs store, passed between nodes as references.

``refs`` (the reference format), ``sniff`` (upload type checks), ``storage`` (directory or
S3-compatible bucket), ``service`` (FileService and the run-bound RunFiles), ``media``
(what file pins of blocks accept: references, data URIs, URLs).
"""
