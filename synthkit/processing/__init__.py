"""Reversible encoding of tables into model space, shared by every generator."""

from synthkit.processing.encoder import TableEncoder

__all__ = ["TableEncoder"]
