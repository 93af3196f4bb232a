"""Decided Early: when does a deep network decide, and how does bias steer that decision?

The shared package behind the book. Each chapter has a subpackage named after its chapter id
(``earlybias.igb``, ...) that reads like the paper's method section; everything the chapters
share lives beside them: ``params`` (parameter schemas and profiles), ``claims`` (the claims
convention), ``runner`` and ``cli`` (``earlybias run``), ``data`` and ``plotting``.
"""

__version__ = "0.1.0"
