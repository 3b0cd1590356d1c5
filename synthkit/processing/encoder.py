"""Former home of :class:`TableEncoder`; its names stay importable from here.

The mixture encoder lives in :mod:`synthkit.processing.table_encoder`, the
regeneration of never-learned columns in :mod:`synthkit.processing.regeneration`.
"""

# The private names are re-exported for code written against the old module.
from synthkit.processing.regeneration import regenerate_column as _regenerate  # noqa: F401
from synthkit.processing.regeneration import (  # noqa: F401
    regeneration_entry as _regeneration_entry,
)
from synthkit.processing.table_encoder import TableEncoder

__all__ = ["TableEncoder"]
