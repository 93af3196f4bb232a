"""Decided Early: when does a deep network decide, and how does bias steer that decision?

The shared package behind the book. Each chapter has a subpackage named after its chapter id
(``earlybias.igb``, ``earlybias.weights``) that reads like the paper's method section; everything
the chapters share lives beside them: ``params`` (parameter schemas and profiles), ``claims``
(the claims convention), ``runner``, ``book`` and ``cli`` (``earlybias run``, ``earlybias
book``), ``session`` (what a notebook calls), ``data``, ``zoo`` (batched training of model
zoos) and ``plotting``.
"""

__version__ = "0.1.0"
