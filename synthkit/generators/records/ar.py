"""The default record model: autoregressive table models for roots, sequence models for children."""

from __future__ import annotations

from typing import Any

from synthkit.generators.base import RARE_CATEGORY_THRESHOLD
from synthkit.generators.records.base import RecordSynthesizer

__all__ = ["RecordARSynthesizer"]


class RecordARSynthesizer(RecordSynthesizer):
    """Related tables from a registered table model and the autoregressive sequence model.

    Each root table is fitted by ``table_model`` (the autoregressive table model
    by default); each child table by ``SequenceSynthesizer("ar")`` over its owner
    parent's rows, with the parent's (and up to ``context_depth - 1`` further
    owners') columns as context. See :class:`RecordSynthesizer`.

    Args:
        epochs: Training passes of every table and sequence model (unless their
            own parameters set it); None (the default) schedules each table by
            its size: a root table trains 6 epochs in batches of a tenth of its
            rows at a learning rate of 5e-3, a child table's sequence model
            about 60,000 event positions in all (1 to 4 epochs) in batches of
            about 1,000 positions, with a learning rate of 0.01 (a private fit:
            10 root epochs at the table model's private rate, 120,000 positions
            in 2 to 8 epochs). Outside DP, child histories train in windows of
            32 positions (``sequence_params={"max_window": ...}`` to change it).
            Either way the quantile bins follow the table's size: a root
            table's numbers get one per 150 rows (8 to 64), a child table's (and
            its context's) one per 100 parents (12 to 32).
        table_model: Registered table model of root tables.
        table_params: Parameters of the root tables' model.
        sequence_params: Parameters of the child tables' sequence models.
        context_depth: Levels of ancestors whose columns a child's model sees:
            1 the parent only, 2 also the grandparent, and so on.
        max_key_categories: A key into a kept table is learned as a category
            when it takes at most this many values; beyond, its values are
            drawn by popularity like keys into synthesized tables.
        rare_category_threshold: Categories seen in fewer rows than this are
            pooled and never generated (privacy); keys into kept tables are
            never pooled.
        epsilon: Train with differential privacy at this ε, the unit being one
            root entity (a root row with every row hanging off it); None (the
            default) trains without. 2 % of ε pays for a noisy number of root
            rows; the rest, and δ, split equally over the root table's model
            and each child table's sequence model (basic composition), each
            with its own DP training (``Synthesizer("ar", epsilon=...)``,
            ``SequenceSynthesizer("ar", epsilon=...)``). Kept tables are public
            and spend nothing. Every synthesized child table must be owned by
            the root (a star, as patients with labs and events); deeper trees
            are refused. ``model.privacy_budget_`` states the split.
        delta: The total δ under ``epsilon``; None gives ``1 / n**1.1`` for ``n``
            root rows.
        n_jobs: Tables fitted at a time, each in a worker process of its own
            (their models learn from the real tables alone, so no fit waits on
            another): ``-1`` (the default) one per core, ``1`` every fit in this
            process. Workers are forked on Linux with a CPU device; on a GPU or
            elsewhere the tables fit here, one after another. Either way each
            model trains on one CPU thread, so the same ``random_state`` gives
            the same models whatever ``n_jobs``.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        random_state: Seed for reproducible fits.
        verbose: Show progress bars while fitting.

    Example:
        >>> RecordARSynthesizer(epochs=5).get_params()["context_depth"]
        2
    """

    name = "ar"

    def __init__(
        self,
        epochs: int | None = None,
        table_model: str = "ar",
        table_params: dict[str, Any] | None = None,
        sequence_params: dict[str, Any] | None = None,
        context_depth: int = 2,
        max_key_categories: int = 1000,
        rare_category_threshold: int = RARE_CATEGORY_THRESHOLD,
        epsilon: float | None = None,
        delta: float | None = None,
        n_jobs: int = -1,
        device: str = "auto",
        random_state: int | None = None,
        verbose: bool = True,
    ) -> None:
        self.epochs = epochs
        self.table_model = table_model
        self.table_params = table_params
        self.sequence_params = sequence_params
        self.context_depth = context_depth
        self.max_key_categories = max_key_categories
        self.rare_category_threshold = rare_category_threshold
        self.epsilon = epsilon
        self.delta = delta
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
