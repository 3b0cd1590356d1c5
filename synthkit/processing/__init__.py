"""Reversible encoding of tables into model space, shared by every generator."""

from synthkit.processing.base import BaseEncoder, Encoder
from synthkit.processing.copula import CopulaEncoder
from synthkit.processing.discretizer import Discretizer
from synthkit.processing.table_encoder import TableEncoder

__all__ = ["BaseEncoder", "CopulaEncoder", "Discretizer", "Encoder", "TableEncoder"]
