"""The record template: a whole database of related tables as a tree of table and sequence models.

:class:`RecordSynthesizer` walks the tables of a
:class:`~synthkit.schema.RecordDataset` parents first:

* a table without a parent (a **root**; there may be several) is modelled by a
  registered table model (``table_model``);
* every other table is a :class:`~synthkit.generators.sequential.SequenceSynthesizer`
  whose entities are the rows of its **owner** parent (the only parent, else the
  first relationship listed, unless ``owners`` names another), keyed by the
  foreign key, with the parent row (and its own owners' rows up to
  ``context_depth`` levels, under ``<table>.<column>`` names) as context. Parents
  without children are entities with no events, so the model learns how many
  children a parent has as a function of the parent;
* a root's number of rows in each child table it owns is a column of its table
  model (``<child>:count``), drawn with the root row; the child's model sees it
  in its context and draws exactly that many events per parent (outside DP);
* a foreign key that is not the owner's takes the kept (public) table's row
  whose columns the child shares (a flight's weather row, by its origin, month,
  day and hour) when they agree on the real rows; else it is learned as a
  categorical column when it points at a kept table, so a flight's destination
  is plausible for its origin; otherwise it is filled by drawing existing
  synthetic parents, each with a popularity drawn from the real numbers of
  children per parent;
* kept tables are copied unchanged and children point at their real keys.

Key columns are never learned as values: primary keys are drawn anew (shaped
like the real ones, never a real one) and foreign keys come from the synthetic
parents, so referential integrity holds by construction.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from synthkit._params import Constraint, Interval
from synthkit._runtime import resolve_device, seed_from
from synthkit.errors import ConditionError, ParameterError, SynthkitError
from synthkit.generators.base import BaseSynthesizer
from synthkit.generators.records._frames import (
    conform,
    frame_from_text,
    frame_to_text,
    schema_from_text,
    schema_to_text,
)
from synthkit.generators.records._metadata import (
    context_metadata,
    learned_values,
    table_metadata,
)
from synthkit.generators.records._plan import checked_options, fitting_order, owner_of
from synthkit.generators.records._privacy import RecordBudget, check_private_plan
from synthkit.generators.records.registry import RECORD_GENERATORS
from synthkit.generators.records.table_fits import TableFit, fit_tables
from synthkit.generators.registry import GENERATORS
from synthkit.generators.sequential.base import SequenceSynthesizer
from synthkit.generators.sequential.entities import _key_entry
from synthkit.generators.sequential.private_layout import private_key_entry
from synthkit.generators.sequential.registry import SEQUENCE_GENERATORS
from synthkit.metadata import IdentifierLearnedWarning, Kind, Metadata
from synthkit.pii.common import seed_for
from synthkit.pii.ids import generate_ids
from synthkit.processing.table_encoder import TableEncoder
from synthkit.schema.multitable import MultiTableMetadata
from synthkit.schema.records import RecordDataset, Relationship
from synthkit.schema.sequences import SequenceDataset

__all__ = ["RecordSynthesizer"]

logger = logging.getLogger("synthkit")


class _Check(Constraint):
    """A parameter constraint from a predicate and its description."""

    def __init__(self, check: Callable[[Any], bool], text: str) -> None:
        self.check, self.text = check, text

    def accepts(self, value: Any) -> bool:
        return self.check(value)

    def __str__(self) -> str:
        return self.text


_MODEL_NAME = _Check(lambda v: isinstance(v, str) and bool(v), "a registered model name")
_PARAMS = _Check(
    lambda v: isinstance(v, Mapping) and all(isinstance(k, str) for k in v),
    "a dict of parameters by name",
)


_N_JOBS = _Check(
    lambda v: isinstance(v, int) and not isinstance(v, bool) and (v == -1 or v >= 1),
    "-1 (one per core) or a positive integer",
)


class _RecordDispatch(type):
    """``RecordSynthesizer("ar", **params)`` builds the registered class for that name."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is not RecordSynthesizer:
            return super().__call__(*args, **kwargs)
        model = args[0] if args else kwargs.pop("model", None)
        if model is None:
            raise ParameterError(
                "Name a record model, e.g. RecordSynthesizer('ar'); known: "
                f"{RECORD_GENERATORS.names()}."
            )
        return RECORD_GENERATORS.get(model)(*args[1:], **kwargs)


class RecordSynthesizer(BaseSynthesizer, metaclass=_RecordDispatch):
    """A generative model of related tables (a database) that keeps every key valid.

    ``RecordSynthesizer(model, **params)`` builds the record model registered
    under ``model`` (``"ar"``). ``fit`` takes a
    :class:`~synthkit.schema.RecordDataset`; ``sample`` returns one with the
    same tables, columns, dtypes, relationships and root, so ``to_records()``
    gives the same nested shape.

    Example:
        >>> import numpy as np, pandas as pd, synthkit
        >>> rng = np.random.default_rng(0)
        >>> patients = pd.DataFrame({"id": np.arange(40), "age": rng.integers(20, 80, 40)})
        >>> labs = pd.DataFrame({"id": np.repeat(np.arange(40), 2),
        ...                      "value": rng.normal(5, 1, 80).round(1)})
        >>> db = synthkit.RecordDataset({"patients": patients, "labs": labs},
        ...                             [synthkit.Relationship("patients", "labs", "id", "id")])
        >>> model = synthkit.RecordSynthesizer("ar", epochs=1, verbose=False, random_state=0)
        >>> synthetic = model.fit(db).sample(scale=0.5)
        >>> len(synthetic.tables["patients"]), list(synthetic.tables["labs"].columns)
        (20, ['id', 'value'])
        >>> bool(synthetic.tables["labs"]["id"].isin(synthetic.tables["patients"]["id"]).all())
        True
    """

    #: The data shape, which names this registry in model files.
    data_shape: ClassVar[str] = "records"
    #: Registered name of the sequence model of child tables.
    sequence_model: ClassVar[str] = "ar"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "epochs": [Interval(int, 1, None), None],
        "table_model": [_MODEL_NAME],
        "table_params": [_PARAMS, None],
        "sequence_params": [_PARAMS, None],
        "context_depth": [Interval(int, 1, None)],
        "max_key_categories": [Interval(int, 1, None)],
        "epsilon": [Interval(float, 0, None, closed="neither"), None],
        "delta": [Interval(float, 0, 1, closed="neither"), None],
        "n_jobs": [_N_JOBS],
    }

    def _check_param_relations(self) -> None:
        try:
            GENERATORS.get(self.table_model)
        except SynthkitError as error:
            raise ParameterError(f"table_model={self.table_model!r}: {error}") from None

    # ------------------------------------------------------------------- fit
    def fit(
        self,
        dataset: RecordDataset,
        *,
        owners: Mapping[str, str] | None = None,
        sequence_index: Mapping[str, str] | None = None,
        keep: Sequence[str] = (),
    ) -> RecordSynthesizer:
        """Learn every table of ``dataset``, parents first.

        Args:
            dataset: The related tables.
            owners: Child table to the parent table whose rows are its entities
                (its context), for tables with several parents; by default the
                parent of the first relationship listed for that table (logged
                on the ``synthkit`` logger).
            sequence_index: Child table to the column that orders its rows
                within a parent (a number or datetime); by default the
                relationship's ``order`` column, else the row order.
            keep: Public reference tables to copy unchanged (airports,
                airlines); their children point at their real keys, and keys
                into them are learned as categories.

        Returns:
            ``self``, fitted; ``fit_seconds_`` holds each modelled table's wall
            and CPU seconds (``{"patients": {"wall": ..., "cpu": ...}, ...}``).

        Raises:
            RecordError: For a dataset that is not a RecordDataset, unknown
                tables or columns in the options, an owner that is not a parent
                of its table, a kept table with synthesized parents, or a cycle.
            ParameterError: For invalid parameters.
        """
        owners, indexes, keep = checked_options(dataset, owners, sequence_index, keep)
        _, seed = self._start_fit()
        order = fitting_order(dataset)
        # Declared kinds (a column declared PII is never learned) or detected once.
        declared = dataset.metadata
        plans: dict[str, dict[str, Any]] = {}
        for name in order:
            owner = None if name in keep else owner_of(dataset, name, owners)
            plans[name] = _table_plan(
                dataset,
                name,
                owner,
                keep,
                indexes.get(name),
                self.max_key_categories,
                private=self.epsilon is not None,
            )
            plan = plans[name]
            learned = {*learned_values(declared[name], plan["values"]), *plan["learned_links"]}
            plan["learned"] = [c for c in plan["values"] if c in learned]
            if plan["role"] == "root":
                values = dataset.tables[name][plan["values"]]
                encoder = _encoder_alone(
                    values,
                    self.rare_category_threshold,
                    table_metadata(declared[name], plan["values"]),
                )
                if encoder is not False:  # only keys, constants and regenerated columns: no model
                    plan["role"] = "unlearned"
                    plan["encoder"] = None if encoder is None else encoder.to_state()
            elif plan["role"] == "child" and len(dataset.tables[name]) == 0:
                plan["role"] = "empty"
        budget = self._private_budget(dataset, plans, order, keep, seed)
        if budget is None:
            _plan_counts(plans, order)
        counts: dict[str, pd.DataFrame] = {}  # children per root row, by root table
        fits: list[TableFit] = []
        for name in order:
            plan = plans[name]
            frame = dataset.tables[name]
            sub_seed = _sub_seed(seed, f"fit:{name}")
            privacy = (
                {} if budget is None or plan["role"] not in ("root", "child") else budget.part(name)
            )
            if plan["role"] == "root":
                values = frame[plan["values"]].reset_index(drop=True)
                counts[name] = _child_counts(dataset, name, plans[name].get("counts", {}))
                values = pd.concat([values, counts[name]], axis=1)
                schedule = _table_schedule(len(values), private=bool(privacy))
                tokens = _table_tokens(len(values))
                model = self._table_model(sub_seed, schedule, privacy, tokens)
                described = table_metadata(declared[name], plan["values"])
                arguments = (values, _root_metadata(described, counts[name]))
                fits.append(TableFit(name, model, arguments, work=_work(model, len(values))))
            elif plan["role"] == "child":
                context = _context(plans, plan, dataset.tables, self.context_depth, counts)
                sources = _context_sources(plans, plan, self.context_depth)
                links = {table: plans[table]["learned_links"] for table, _ in sources.values()}
                key = plan["owner"]["child_key"]
                described = context_metadata(sources, declared, key, links)
                schedule = _sequence_schedule(len(frame), len(context), private=bool(privacy))
                tokens = _sequence_tokens(len(context))
                owner = plan["owner"]
                counted = owner is not None and name in plans[owner["parent"]].get("counts", {})
                model = self._sequence(sub_seed, schedule, privacy, tokens, counted)
                work = _work(model, len(frame) + len(context))
                events = _events(frame, plan, declared[name])
                arguments = {"context": context, "context_metadata": described}
                fits.append(TableFit(name, model, (events,), arguments, work))
        fitted = fit_tables(fits, self.n_jobs, resolve_device(self.device), self.verbose)
        self.models_: dict[str, BaseSynthesizer] = {n: f.model for n, f in fitted.items()}
        self.fit_seconds_: dict[str, dict[str, float]] = {
            n: {"wall": f.wall, "cpu": f.cpu} for n, f in fitted.items()
        }
        self.layout_ = {
            "order": order,
            "tables": plans,
            "dataset": _dataset_state(dataset),
        }
        if budget is not None:  # the split and what each model spent, saved with the layout
            spent = {n: getattr(m, "privacy_budget_", None) for n, m in self.models_.items()}
            self.layout_["privacy"] = budget.report(spent, len(order))
        self._set_privacy(self.layout_.get("privacy"))
        self._kept = {n: dataset.tables[n] for n in order if plans[n]["role"] == "kept"}
        self.loss_history_ = pd.DataFrame()
        # Under DP the row count is not kept: one root entity's rows move it.
        rows = int(sum(len(frame) for frame in dataset.tables.values()))
        self.n_rows_fitted_ = rows if budget is None else None
        return self

    def _private_budget(
        self,
        dataset: RecordDataset,
        plans: dict[str, dict[str, Any]],
        order: list[str],
        keep: list[str],
        seed: int,
    ) -> RecordBudget | None:
        """Under ``epsilon``: the split budget, after the plan is checked and made data-free.

        The root's row count becomes a noisy count and primary keys are numbered
        without reading the real ones (see ``_privacy``).
        """
        if self.epsilon is None:
            return None
        root, models = check_private_plan(plans, order, self.table_params, self.sequence_params)
        budget = RecordBudget(
            self.epsilon, self.delta, root, len(dataset.tables[root]), models, keep
        )
        plans[root]["n_rows"] = budget.noisy_count(
            plans[root]["n_rows"], _sub_seed(seed, "privacy:count")
        )
        for name in order:
            if plans[name].get("key_entry") is not None:
                key = dataset.tables[name][plans[name]["primary_key"]]
                plans[name]["key_entry"] = private_key_entry(str(key.dtype))
        return budget

    def _set_privacy(self, privacy: dict[str, Any] | None) -> None:
        self.privacy_budget_ = privacy
        self.epsilon_spent_ = None if privacy is None else privacy["epsilon_spent"]
        self.delta_ = None if privacy is None else privacy["delta"]

    def _table_model(
        self,
        seed: int,
        schedule: Mapping[str, float],
        privacy: Mapping[str, float] | None = None,
        tokens: Mapping[str, int] | None = None,
    ) -> BaseSynthesizer:
        cls = GENERATORS.get(self.table_model)
        given = {**(self.table_params or {}), **(privacy or {})}
        return cls(**self._sub_params(cls, seed, schedule, given, tokens))

    def _sequence(
        self,
        seed: int,
        schedule: Mapping[str, float],
        privacy: Mapping[str, float] | None = None,
        tokens: Mapping[str, int] | None = None,
        counted: bool = False,
    ) -> SequenceSynthesizer:
        # Parents are synthesized before their children, so the sequence model
        # needs no context model of its own: contexts are always given.
        shared: dict[str, Any] = {"context_model": None}
        if not privacy:  # the private fit keeps its own windows
            shared["max_window"] = _SEQUENCE_WINDOW
            # Child tables train 1 to 4 passes (_SEQUENCE_POSITIONS), too few to
            # learn single histories, so they keep the full network every step.
            shared["dropout"] = 0.0
            # Their fixed schedule always ended on its best held-out epoch (NAFLD: 2 of
            # 2 for labs, 8 of 8 for events; nycflights13: 8 of 8), so holding entities
            # out only cost data. Trained on all, NAFLD's root-entity DCR share fell on
            # four of four fits (two splits, two seeds; 0.523 to 0.510 on average) at
            # like inter-table trends (0.934 and 0.932); the planes' rose on two of two
            # (0.515 to 0.527), within the spread of refits.
            shared["validation_split"] = None
            # Recall (values following the entity's own earlier ones) left NAFLD's
            # inter-table trends where they were (0.942 with, 0.943 and 0.938
            # without) and its one fit per split had a higher root-entity DCR share
            # (0.534 and 0.520 against 0.516 and 0.515), the target's edge.
            shared["recall"] = False
            # Where the root draws the child counts, histories always come with
            # their lengths and can read how many events remain: NAFLD's inter-table
            # trends 0.944 against 0.941 over six fits, DCR share 0.518 against 0.516.
            shared["given_lengths"] = counted
        params = {**shared, **(self.sequence_params or {}), **(privacy or {})}
        cls = SEQUENCE_GENERATORS.get(self.sequence_model)
        return cls(**self._sub_params(cls, seed, schedule, params, tokens))

    def _sub_params(
        self,
        cls: type[BaseSynthesizer],
        seed: int,
        schedule: Mapping[str, float],
        given: Mapping[str, Any] | None,
        tokens: Mapping[str, int] | None = None,
    ) -> dict[str, Any]:
        """This model's shared parameters that ``cls`` takes, then the given ones.

        With ``epochs=None`` the table's ``schedule`` (epochs, batch size and a
        learning rate by its size; a private root keeps its model's own rate)
        applies; otherwise
        every model trains ``epochs`` passes with its own batch size. The
        ``tokens`` (quantile bins by the table's size) apply either way.
        Parameters given for the model win over all of them.
        """
        shared = {
            **(dict(schedule) if self.epochs is None else {"epochs": self.epochs}),
            **dict(tokens or {}),
            "rare_category_threshold": self.rare_category_threshold,
            "device": self.device,
            "verbose": self.verbose,
            "random_state": seed,
        }
        names = set(cls._param_names())
        return {**{k: v for k, v in shared.items() if k in names}, **dict(given or {})}

    # ---------------------------------------------------------------- sample
    def sample(
        self,
        scale: float = 1.0,
        *,
        conditions: Mapping[str, Any] | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> RecordDataset:
        """Draw a synthetic database with the training data's tables, keys and nesting.

        Args:
            scale: Root tables get ``round(scale * real rows)`` rows (at least
                one); child tables follow from the model; kept tables are copied.
            conditions: ``{column: value | [values] | (low, high)}`` met exactly
                by every row of the dataset's root table, or
                ``{root table: {column: ...}}`` for several roots.
            random_state: Seed for reproducible samples.

        Returns:
            A :class:`~synthkit.schema.RecordDataset` whose primary keys are new
            (never real ones, except in kept tables) and whose foreign keys all
            point at existing rows.

        Raises:
            NotFittedError: Before :meth:`fit`.
            ParameterError: For a scale that is not a positive number.
            ConditionError: For conditions on unknown tables or columns, or that
                cannot be met.
        """
        self._check_fitted()
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
            raise ParameterError(f"scale={scale!r}: pass a positive number such as 1.0 or 0.5.")
        layout = self.layout_
        wanted = _root_conditions(conditions, layout)
        seed = seed_from(random_state)
        out: dict[str, pd.DataFrame] = {}
        counts: dict[str, pd.DataFrame] = {}  # drawn children per root row, by root table
        for name in layout["order"]:
            plan = layout["tables"][name]
            template = frame_from_text(plan["template"])
            role = plan["role"]
            sub_seed = _sub_seed(seed, f"sample:{name}")
            if role == "kept":
                out[name] = self._kept[name].copy()
                continue
            if role in ("root", "unlearned"):
                n = max(1, round(scale * plan["n_rows"]))
                if role == "root":
                    drawn = self.models_[name].sample(
                        n, conditions=wanted.get(name), random_state=sub_seed
                    )
                elif plan["encoder"] is not None:
                    encoder = TableEncoder.from_state(plan["encoder"])
                    drawn = encoder.decode(torch.zeros((n, 0)), random_state=sub_seed)
                else:
                    drawn = pd.DataFrame(index=range(n))
                columns = {c: drawn[c].to_numpy() for c in drawn.columns}
                wanted_counts = list(plan.get("counts", {}).values())
                counts[name] = drawn[wanted_counts].round().clip(lower=0).reset_index(drop=True)
            else:
                context = _context(layout["tables"], plan, out, self.context_depth, counts)
                if role == "empty" or len(context) == 0:
                    out[name] = template
                    continue
                lengths = _drawn_lengths(name, plan, context, layout["tables"])
                events = (
                    self.models_[name]
                    .sample(context=context, lengths=lengths, random_state=sub_seed)
                    .data
                )
                events = _in_parent_order(events, plan["owner"]["child_key"], context)
                n = len(events)
                columns = {c: events[c].to_numpy() for c in events.columns}
                if plan["position"] is not None:
                    columns[plan["position"]] = events.groupby(
                        plan["owner"]["child_key"], sort=False
                    ).cumcount()
                for link in plan["links"]:
                    if link["mode"] == "matched":
                        columns[link["child_key"]] = _matched_parents(
                            link,
                            columns,
                            out[link["parent"]],
                            _sub_seed(sub_seed, link["child_key"]),
                        )
                    elif link["mode"] == "sampled":
                        parents = out[link["parent"]][link["parent_key"]].to_numpy()
                        columns[link["child_key"]] = _draw_parents(
                            link, n, parents, _sub_seed(sub_seed, link["child_key"])
                        )
                    elif self.privacy_budget_ is not None:
                        parents = out[link["parent"]][link["parent_key"]].to_numpy()
                        columns[link["child_key"]] = _public_keys(
                            columns[link["child_key"]], parents, _sub_seed(sub_seed, "public")
                        )
            key = plan["primary_key"]
            if key is not None:
                columns[key] = generate_ids(plan["key_entry"], n, _sub_seed(sub_seed, "key"))
            out[name] = conform(columns, template)
        return _dataset_from_state(layout["dataset"], out)

    # ----------------------------------------------------------------- state
    def _encoder_states(self) -> dict[str, dict[str, Any]]:
        kept = {name: frame_to_text(frame) for name, frame in self._kept.items()}
        return {"records": {**self.layout_, "kept": kept}}

    def _restore_encoders(self, states: Mapping[str, dict[str, Any]]) -> None:
        layout = dict(states["records"])
        self._kept = {name: frame_from_text(text) for name, text in layout.pop("kept").items()}
        self.layout_ = layout
        self._set_privacy(layout.get("privacy"))  # None in model files fitted without epsilon

    def _submodels(self) -> dict[str, BaseSynthesizer]:
        return dict(self.models_)

    def _set_submodels(self, submodels: dict[str, BaseSynthesizer]) -> None:
        self.models_ = dict(submodels)


# --------------------------------------------------------------------- helpers
#: A root table's batches hold one in this many of its rows (within the bounds below).
_TABLE_BATCH_SHARE = 10
_TABLE_BATCH = (32, 512)
#: The root's model also draws how many rows of each child a root row has: at six
#: passes (60 steps on 2,401 NAFLD patients) and the table model's rate of 2e-3 the
#: labs per patient came out 0.94 to 0.95 alike (1 - KS) and too few patients had
#: none; at ten passes, 0.98. Six passes at 5e-3 draw them as well as ten at 2e-3
#: (0.98 on two NAFLD splits, 0.964 to 0.984 for the events) in 60 % of the time.
_TABLE_EPOCHS = 6
_TABLE_LEARNING_RATE = 5e-3
#: Private fits keep the passes their budgets were measured with (DP-SGD's noise per
#: step follows from the steps taken) and the private models' own learning rates.
_PRIVATE_TABLE_EPOCHS = 10
_PRIVATE_SEQUENCE_POSITIONS = (120_000, (2, 8))
#: A root table's numbers get a quantile bin (and a value its own token) per this many
#: rows, within the bounds below. On 1,200 NAFLD patients (six splits), 8 bins instead
#: of the table model's 64 (values as tokens only in columns of at most 8 values, not
#: 128) cut the patients' detection AUC from 0.81 to 0.60 at a like DCR share (0.52
#: and 0.51, spread 0.02): in 100 steps each token is seen often enough to be learned,
#: and the ages of the patients no longer came out near uniform.
_TABLE_ROWS_PER_BIN = 150
_TABLE_BINS = (8, 64)
#: A child table's sequence model sees about this many positions (events and the
#: stop after each history) over its epochs, within the bounds below: large tables
#: settle in fewer passes, small ones get more. Four times this was needed while the
#: sequence model alone decided how many children a parent has (NAFLD labs, 24 a
#: patient, were still under-counted); now the root's table model draws the counts
#: and each history is drawn to its count. On two NAFLD splits (2,401 patients), one
#: pass over the labs and four over the events instead of two and eight gave
#: inter-table trends of 0.946 and 0.941 against 0.944 and 0.941, and a root-entity
#: DCR share of 0.514 and 0.523 against 0.536 and 0.512, for 55 % of the fit's time.
_SEQUENCE_POSITIONS = 60_000
_SEQUENCE_EPOCHS = (1, 4)
#: Positions per step a child table's batches aim at (within the bounds below):
#: short histories get large batches, as their steps cost little each. Twice the
#: steps of 2,000 positions a step, with the larger rate below, let the parent's
#: numbers steer the children (NAFLD: the correlation of follow-up time with the
#: labs' days went from 0.04 to 0.34, the real one being 0.55).
_SEQUENCE_STEP_POSITIONS = 1_000
_SEQUENCE_BATCH = (32, 256)
#: Event positions a child table's history contributes per step (the sequence model's
#: default: 64); longer histories train one window at a time, the state before it
#: carried. On NAFLD (2,401 patients) windows of 32 cut the labs' model's CPU time by
#: 10 to 25 % (fits alternated in one process), with inter-table trends of 0.921 to
#: 0.933 over two splits against 0.918 to 0.928: no loss beyond the fits' spread.
_SEQUENCE_WINDOW = 32
#: Fewer passes than the sequence model's default take a larger step (its default: 3e-3).
_SEQUENCE_LEARNING_RATE = 0.01
#: A child table's numbers (the parent's in its context too) get a quantile bin per this
#: many parents, within the bounds below: each context bin's embedding is learned from
#: the parents in it, and 32 bins of 1,200 patients left age's effect on which labs a
#: patient gets unlearned. On 2,401 NAFLD patients, 12 bins instead of 24 left the
#: root-entity DCR share where it was (0.50 to 0.54 over two splits and four fits,
#: as 24 bins: 0.52 to 0.54), so the finer bins stay.
_SEQUENCE_PARENTS_PER_BIN = 100
_SEQUENCE_BINS = (12, 32)


def _table_schedule(n_rows: int, private: bool = False) -> dict[str, float]:
    """Epochs, batch size and learning rate of a root table's model, by its number of rows.

    Batches of a tenth of the rows: a table model's default batch of hundreds
    would take one or two steps per epoch on a root of a few hundred rows. The
    rows are shared about evenly over the steps, so a small table's epoch does
    not end on a sliver (2,401 NAFLD patients: batches of 241, not ten of 240
    and a step on one row).

    Example:
        >>> [_table_schedule(n)["batch_size"] for n in (300, 1_200, 2_401, 100_000)]
        [34, 120, 241, 511]
        >>> _table_schedule(2_401), _table_schedule(2_401, private=True)
        ({'epochs': 6, 'batch_size': 241, 'learning_rate': 0.005}, {'epochs': 10, 'batch_size': 241})
    """  # noqa: E501
    low, high = _TABLE_BATCH
    batch = int(min(high, max(low, n_rows // _TABLE_BATCH_SHARE)))
    steps = max(round(n_rows / batch), -(-n_rows // high), 1)
    batch = max(-(-n_rows // steps), 1)
    if private:
        return {"epochs": _PRIVATE_TABLE_EPOCHS, "batch_size": batch}
    return {"epochs": _TABLE_EPOCHS, "batch_size": batch, "learning_rate": _TABLE_LEARNING_RATE}


def _table_tokens(n_rows: int) -> dict[str, int]:
    """Quantile bins of a root table's numbers and the most values kept as tokens, by its rows.

    Example:
        >>> _table_tokens(1_200), _table_tokens(100_000)
        ({'n_bins': 8, 'max_points': 8}, {'n_bins': 64, 'max_points': 64})
    """
    bins = _bins(n_rows, _TABLE_ROWS_PER_BIN, _TABLE_BINS)
    return {"n_bins": bins, "max_points": bins}


def _sequence_tokens(n_parents: int) -> dict[str, int]:
    """Quantile bins of a child table's numbers and its context's, by its number of parents.

    Example:
        >>> _sequence_tokens(1_200), _sequence_tokens(2_000), _sequence_tokens(50_000)
        ({'n_bins': 12}, {'n_bins': 20}, {'n_bins': 32})
    """
    return {"n_bins": _bins(n_parents, _SEQUENCE_PARENTS_PER_BIN, _SEQUENCE_BINS)}


def _bins(n_rows: int, per_bin: int, bounds: tuple[int, int]) -> int:
    low, high = bounds
    return int(min(high, max(low, n_rows // per_bin)))


def _sequence_schedule(n_events: int, n_entities: int, private: bool = False) -> dict[str, float]:
    """Epochs, batch size and learning rate of a child table's sequence model, by its size.

    A history of ``k`` events is ``k + 1`` positions (the stop). The epochs
    give about ``_SEQUENCE_POSITIONS`` positions in all (so a table of 30,000
    lab results trains 2 passes, one of 3,000 events 4); batches hold about
    ``_SEQUENCE_STEP_POSITIONS`` positions.

    Example:
        >>> _sequence_schedule(29_394, 1_202)
        {'epochs': 2, 'batch_size': 39, 'learning_rate': 0.01}
        >>> events = _sequence_schedule(2_437, 1_202)
        >>> events["epochs"], events["batch_size"]
        (4, 256)
        >>> _sequence_schedule(2_437, 1_202, private=True)["epochs"]
        8
    """
    positions = max(n_events + n_entities, 1)
    total, (low, high) = (
        _PRIVATE_SEQUENCE_POSITIONS if private else (_SEQUENCE_POSITIONS, _SEQUENCE_EPOCHS)
    )
    epochs = int(min(high, max(low, round(total / positions))))
    per_entity = positions / max(n_entities, 1)
    low, high = _SEQUENCE_BATCH
    batch = int(min(high, max(low, round(_SEQUENCE_STEP_POSITIONS / per_entity))))
    return {"epochs": epochs, "batch_size": batch, "learning_rate": _SEQUENCE_LEARNING_RATE}


def _work(model: BaseSynthesizer, rows: int) -> float:
    """Rows times passes of a table's fit: the largest fits start first."""
    return float(rows * (getattr(model, "epochs", None) or 1))


def _sub_seed(seed: int, purpose: str) -> int:
    """An independent seed per table and purpose, so tables never share draws."""
    return int(seed_for(seed, purpose).generate_state(1, np.uint64)[0] >> np.uint64(1))


def _table_plan(
    dataset: RecordDataset,
    name: str,
    owner: Relationship | None,
    keep: list[str],
    index: str | None,
    max_categories: int,
    private: bool = False,
) -> dict[str, Any]:
    """How one table is modelled, as JSON: its role, keys, learned columns and links.

    A foreign key into a kept table is ``matched`` when the child shares
    columns with that table that agree on (nearly) every real row (a flight's
    origin, month, day and hour and its weather row), ``learned`` as a category
    when it takes at most ``max_categories`` values, else ``sampled`` by
    popularity (as keys into synthesized tables are). A private fit (``private``)
    never matches: checking the agreement reads the real rows.
    """
    frame = dataset.tables[name]
    key = dataset.primary_keys.get(name)
    incoming = [r for r in dataset.relationships if r.child == name]
    foreign = {r.child_key for r in incoming}
    # A primary key that is also a foreign key (one-to-one) comes from the parent.
    drawn_key = key if name not in keep and key not in foreign else None
    plan: dict[str, Any] = {
        "template": frame_to_text(frame.iloc[:0]),
        "primary_key": drawn_key,
        "owner": None if owner is None else owner.to_dict(),
        "position": None,
        "index": None,
        "links": [],
    }
    if drawn_key is not None:
        plan["key_entry"] = _key_entry(frame[key])
    if name in keep:
        plan["role"] = "kept"
    elif owner is None:
        plan["role"] = "root"
        plan["n_rows"] = len(frame)
    else:
        plan["role"] = "child"
        generated = dataset.generated.get(name, ())
        if owner.order is not None and owner.order in generated and index is None:
            plan["position"] = owner.order  # list positions are renumbered, not learned
        else:
            plan["index"] = index or owner.order
        for link in incoming:
            if link == owner or link.child_key == owner.child_key:
                continue
            learned = link.parent in keep
            matched = []
            if learned and not private:
                # Keys filled apart (the owner's, keys into synthesized tables, keys of many
                # values) are not known when the match is made; learned keys (origin) are.
                apart = {owner.child_key} | {
                    r.child_key
                    for r in incoming
                    if r.parent not in keep or frame[r.child_key].nunique() > max_categories
                }
                matched = _matching_columns(dataset, link, apart)
            distinct = frame[link.child_key].nunique()
            if matched:
                # The child's own columns name the parent row (a flight's origin, month, day
                # and hour its weather row): a lookup keeps that exactly, with nothing to learn.
                learned = False
                logger.info(
                    "Table %r: %r follows from the columns %s it shares with %r; each row "
                    "takes a %r row with its values.",
                    name,
                    link.child_key,
                    matched,
                    link.parent,
                    link.parent,
                )
            elif learned and distinct > max_categories:
                # A key of that many values (a weather row per hour) is nearly one per
                # row: learning it would cost much and copy rows; popularity suffices.
                learned = False
                logger.info(
                    "Table %r: %d distinct keys in %r (more than max_key_categories=%d) "
                    "are drawn by popularity, not learned.",
                    name,
                    distinct,
                    link.child_key,
                    max_categories,
                )
            mode = "matched" if matched else "learned" if learned else "sampled"
            entry = {**link.to_dict(), "mode": mode}
            if matched:
                entry["columns"] = matched
            if mode != "learned":  # popularity also serves rows with no matching parent
                entry.update(_popularity(dataset, link))
            plan["links"].append(entry)
    hidden = {key, *foreign, plan["position"], plan["index"]}
    learned_links = [link["child_key"] for link in plan["links"] if link["mode"] == "learned"]
    plan["values"] = [c for c in frame.columns if c not in hidden or c in learned_links]
    plan["learned_links"] = learned_links
    return plan


def _encoder_alone(
    values: pd.DataFrame, threshold: int, metadata: Metadata
) -> TableEncoder | bool | None:
    """For a root table with nothing to learn, the encoder that draws its rows alone.

    A table model refuses a table of constants and regenerated columns (names,
    ids); its encoder decodes them from nothing. ``None`` for a table of keys
    only; ``False`` when there is something to learn. ``metadata`` holds the
    kinds of ``values``' columns.
    """
    if values.shape[1] == 0:
        return None
    for column in values.columns:
        kind = Kind(metadata.column(column)["kind"])
        # A number that varies is always learned: no need to fit mixtures to know it.
        if kind in (Kind.NUMERICAL, Kind.DATETIME) and values[column].nunique() > 1:
            return False
    encoder = TableEncoder(rare_category_threshold=threshold).fit(values, metadata)
    return encoder if encoder.output_dim_ == 0 else False


def _popularity(dataset: RecordDataset, link: Relationship) -> dict[str, Any]:
    """The real distribution of children per parent along ``link``, and its missing share."""
    keys = dataset.tables[link.child][link.child_key]
    parents = dataset.tables[link.parent][link.parent_key]
    counts = keys.value_counts().reindex(parents, fill_value=0)
    histogram = counts.value_counts().sort_index()
    return {
        "counts": [int(c) for c in histogram.index],
        "parents": [int(n) for n in histogram.to_numpy()],
        "missing": float(keys.isna().mean()) if len(keys) else 0.0,
    }


def _draw_parents(link: Mapping[str, Any], n: int, parents: np.ndarray, seed: int) -> pd.Series:
    """``n`` foreign keys into ``parents``, each parent as popular as a real one drawn at random."""
    rng = np.random.default_rng(seed)
    if len(parents) == 0:
        return pd.Series([None] * n, dtype=object)
    counts = np.asarray(link["counts"], dtype=float)
    shares = np.asarray(link["parents"], dtype=float)
    weights = rng.choice(counts, len(parents), p=shares / shares.sum())
    if weights.sum() == 0:
        weights = np.ones(len(parents))
    values = pd.Series(parents[rng.choice(len(parents), n, p=weights / weights.sum())])
    missing = rng.random(n) < link["missing"]
    return values.where(~missing) if missing.any() else values


#: A column the child shares with a kept parent names the parent row when it agrees
#: with the linked row's value on at least this share of the real rows.
_MATCH_AGREEMENT = 0.99


def _matching_columns(
    dataset: RecordDataset, link: Relationship, apart: Collection[str] = ()
) -> list[str]:
    """Columns of ``link``'s child that equal those of the parent row it points at.

    Columns both tables have (``link``'s keys and the ``apart`` ones aside), in
    the parent's column order, kept when they agree on at least
    ``_MATCH_AGREEMENT`` of the child's linked rows.

    Example:
        >>> weather = pd.DataFrame({"w": [0, 1, 2], "day": [1, 1, 2], "hour": [5, 6, 5]})
        >>> flights = pd.DataFrame({"w": [1, 2, 0], "day": [1, 2, 1], "hour": [6, 5, 5],
        ...                         "delay": [3, 0, 9]})
        >>> data = RecordDataset({"weather": weather, "flights": flights},
        ...                      [Relationship("weather", "flights", "w", "w")])
        >>> _matching_columns(data, data.relationships[0])
        ['day', 'hour']
    """
    child, parent = dataset.tables[link.child], dataset.tables[link.parent]
    keys = {link.child_key, link.parent_key, *apart}
    shared = [c for c in parent.columns if c in child.columns and c not in keys]
    if not shared or len(child) == 0:
        return []
    position = pd.Index(parent[link.parent_key]).get_indexer(child[link.child_key])
    linked = position >= 0
    if not linked.any():
        return []
    rows = parent.iloc[position[linked]].reset_index(drop=True)
    own = child.loc[linked].reset_index(drop=True)
    found = []
    for column in shared:
        a, b = own[column], rows[column]
        try:
            same = (a.to_numpy() == b.to_numpy()) | (a.isna().to_numpy() & b.isna().to_numpy())
        except (TypeError, ValueError):  # values that do not compare (mixed types)
            continue
        if same.mean() >= _MATCH_AGREEMENT:
            found.append(column)
    return found


def _matched_parents(
    link: Mapping[str, Any],
    columns: Mapping[str, Any],
    parents: pd.DataFrame,
    seed: int,
) -> pd.Series:
    """For each synthetic child row, the key of a parent row with the same shared values.

    Rows with no parent of all their values match on fewer columns (the last
    one dropped first: the hour before the day); rows matching none are drawn by
    popularity. Among several matching parents one is drawn uniformly.

    Example:
        >>> weather = pd.DataFrame({"w": [10, 11, 12], "day": [1, 1, 2], "hour": [5, 6, 5]})
        >>> link = {"parent_key": "w", "columns": ["day", "hour"], "counts": [1],
        ...         "parents": [3], "missing": 0.0}
        >>> rows = {"day": np.array([2, 1, 2]), "hour": np.array([5, 6, 9])}
        >>> _matched_parents(link, rows, weather, 0).tolist()
        [12, 11, 12]
    """
    rng = np.random.default_rng(seed)
    names = [c for c in link["columns"] if c in columns]
    n = len(next(iter(columns.values())))
    keys = parents[link["parent_key"]].to_numpy()
    chosen = np.full(n, -1)
    for width in range(len(names), 0, -1):
        todo = np.flatnonzero(chosen < 0)
        if len(todo) == 0 or len(keys) == 0:
            break
        used = names[:width]
        wanted = pd.DataFrame({c: np.asarray(columns[c], dtype=object)[todo] for c in used})
        # One numbering of the value combinations of parents and wanted rows alike.
        both = pd.concat([parents[used].astype(object), wanted], ignore_index=True)
        group = both.groupby(used, dropna=False, sort=False).ngroup().to_numpy()
        own, asked = group[: len(keys)], group[len(keys) :]
        order = np.argsort(own, kind="stable")
        count = np.bincount(own, minlength=group.max() + 1)
        first = np.concatenate([[0], np.cumsum(count)[:-1]])
        hit = count[asked] > 0
        pick = first[asked[hit]] + (rng.random(int(hit.sum())) * count[asked[hit]]).astype(int)
        chosen[todo[hit]] = order[pick]
    values = pd.Series(keys[np.clip(chosen, 0, None)] if len(keys) else [None] * n)
    rest = chosen < 0
    if rest.any():
        drawn = _draw_parents(link, int(rest.sum()), keys, int(rng.integers(2**62)))
        values = values.astype(object)
        values[rest] = drawn.to_numpy()
    return values


def _public_keys(values: np.ndarray, parents: np.ndarray, seed: int) -> np.ndarray:
    """Learned keys into a kept table, with those a private fit could not name drawn anew.

    Under DP the sequence model pools keys too rare to pass its noisy threshold
    and decodes them as missing; the kept table is public, so they are drawn
    uniformly from its keys (post-processing, no budget), keeping every key valid.

    Example:
        >>> _public_keys(np.array(["a", None], dtype=object), np.array(["a", "b"]), 0)[0]
        'a'
    """
    values = np.asarray(values, dtype=object).copy()
    missing = pd.isna(values)
    if missing.any() and len(parents):
        values[missing] = np.random.default_rng(seed).choice(parents, int(missing.sum()))
    return values


def _context(
    plans: Mapping[str, Mapping[str, Any]],
    plan: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    depth: int,
    counts: Mapping[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """One row per owner-parent row: its key (named as the child's foreign key) and values.

    The owner's own owners' values follow, up to ``depth`` levels, each column
    named ``<table>.<column>``, and a root's numbers of children
    (``<root>.<child>:count``, from ``counts``, row-aligned with the root); the
    same function builds the real context at fit and the synthetic one at sampling.
    """
    owner = plan["owner"]
    parent = tables[owner["parent"]]
    context = {owner["child_key"]: parent[owner["parent_key"]].to_numpy()}
    rows, name = parent.reset_index(drop=True), owner["parent"]
    at = np.arange(len(rows))
    for level in range(depth):
        for column in _context_values(plans[name]):
            context[f"{name}.{column}"] = rows[column].to_numpy()
        counted = (counts or {}).get(name)
        if counted is not None:
            for column in counted.columns:
                context[f"{name}.{column}"] = counted[column].to_numpy()[at]
        up = plans[name]["owner"]
        if up is None or level + 1 == depth:
            break
        above = tables[up["parent"]]
        at = pd.Index(above[up["parent_key"]]).get_indexer(rows[up["child_key"]])
        rows = above.iloc[at].reset_index(drop=True)
        name = up["parent"]
    return pd.DataFrame(context)


def _context_sources(
    plans: Mapping[str, Mapping[str, Any]], plan: Mapping[str, Any], depth: int
) -> dict[str, tuple[str, str | None]]:
    """Each column :func:`_context` builds but the key, with the table and column it comes from.

    The column is None for a root's number of children.

    Example:
        >>> plans = {"p": {"owner": None, "values": ["age", "name"], "learned": ["age"],
        ...                "counts": {"labs": "labs:count"}}}
        >>> _context_sources(plans, {"owner": {"parent": "p"}}, 2)
        {'p.age': ('p', 'age'), 'p.labs:count': ('p', None)}
    """
    sources: dict[str, tuple[str, str | None]] = {}
    name = plan["owner"]["parent"]
    for level in range(depth):
        for column in _context_values(plans[name]):
            sources[f"{name}.{column}"] = (name, column)
        for column in plans[name].get("counts", {}).values():
            sources[f"{name}.{column}"] = (name, None)
        up = plans[name]["owner"]
        if up is None or level + 1 == depth:
            break
        name = up["parent"]
    return sources


def _context_values(plan: Mapping[str, Any]) -> list[str]:
    """A parent's columns its children's context holds: the learned ones.

    Model files written before kinds were read from the dataset's metadata hold every value.
    """
    return list(plan.get("learned", plan["values"]))


def _count_column(child: str) -> str:
    """The root model's column of a child table's rows per root row."""
    return f"{child}:count"


def _plan_counts(plans: dict[str, dict[str, Any]], order: Sequence[str]) -> None:
    """Give each root the number of rows of each child it owns, as a column of its model.

    The root's table model then draws how many labs a patient has jointly with
    the patient (the relationship's cardinality, as well as its table model
    learns any column); the child's sequence model sees the number in its
    context, and sampling cuts each history at it. Skipped under DP.
    """
    for name in order:
        plan = plans[name]
        if plan["role"] != "child" or plan["owner"] is None:
            continue
        root = plans[plan["owner"]["parent"]]
        if root["role"] == "root":
            root.setdefault("counts", {})[name] = _count_column(name)


def _child_counts(dataset: RecordDataset, name: str, columns: Mapping[str, str]) -> pd.DataFrame:
    """Rows of each counted child table per row of root table ``name``, in its row order.

    Example:
        >>> data = RecordDataset({"p": pd.DataFrame({"id": [1, 2, 3]}),
        ...                       "c": pd.DataFrame({"id": [3, 1, 3]})},
        ...                      [Relationship("p", "c", "id", "id")])
        >>> _child_counts(data, "p", {"c": "c:count"})["c:count"].tolist()
        [1, 0, 2]
    """
    found = {}
    for child, column in columns.items():
        link = next(r for r in dataset.relationships if r.child == child and r.parent == name)
        per_parent = dataset.tables[child][link.child_key].value_counts()
        keys = dataset.tables[name][link.parent_key]
        found[column] = per_parent.reindex(keys, fill_value=0).to_numpy().astype(np.int64)
    return pd.DataFrame(found, index=range(len(dataset.tables[name])))


def _root_metadata(described: Metadata, counts: pd.DataFrame) -> Metadata:
    """The root's metadata: its columns' ``described`` kinds, and its count columns.

    Counts are numerical: small counts would look like codes.
    """
    counted = {column: {"kind": "numerical", "integer": True} for column in counts.columns}
    metadata = Metadata({**described.to_dict()["columns"], **counted})
    for rule in described.rules:
        metadata.add_rule(rule)
    return metadata


def _drawn_lengths(
    name: str,
    plan: Mapping[str, Any],
    context: pd.DataFrame,
    plans: Mapping[str, Mapping[str, Any]],
) -> np.ndarray | None:
    """Each parent's drawn number of rows of child table ``name``, if its root counts them.

    The sequence model then draws exactly that many events per parent
    (``lengths=``), so the number of children comes from the root's table model
    and their values from the sequence model; None leaves the number to the
    sequence model (a grandchild table, or a private fit).

    Example:
        >>> plans = {"p": {"counts": {"c": "c:count"}}}
        >>> plan = {"owner": {"parent": "p", "child_key": "id"}}
        >>> context = pd.DataFrame({"id": [1, 2], "p.c:count": [3.0, 0.0]})
        >>> _drawn_lengths("c", plan, context, plans).tolist()
        [3, 0]
    """
    owner = plan["owner"]
    column = plans[owner["parent"]].get("counts", {}).get(name)
    if column is None:
        return None
    return context[f"{owner['parent']}.{column}"].to_numpy().astype(np.int64)


def _in_parent_order(events: pd.DataFrame, key: str, context: pd.DataFrame) -> pd.DataFrame:
    """Histories in the parents' (context rows') order, each keeping its own order.

    Example:
        >>> events = pd.DataFrame({"id": [2, 1, 2], "x": [1, 2, 3]})
        >>> _in_parent_order(events, "id", pd.DataFrame({"id": [1, 2]}))["x"].tolist()
        [2, 1, 3]
    """
    code = pd.Index(context[key]).get_indexer(events[key])
    return events.iloc[np.argsort(code, kind="stable")].reset_index(drop=True)


def _events(frame: pd.DataFrame, plan: Mapping[str, Any], metadata: Metadata) -> SequenceDataset:
    """The child table as sequences keyed by the owner's foreign key, keys left out.

    ``metadata`` is the table's; its key, index and value columns describe the events.
    """
    key = plan["owner"]["child_key"]
    index = plan["index"]
    columns = [key, *([index] if index else []), *plan["values"]]
    events = frame
    if plan["position"] is not None:
        events = frame.sort_values([key, plan["position"]], kind="stable")
    sequences = SequenceDataset(
        events[columns].reset_index(drop=True),
        key,
        index,
        sort=index is not None,
        metadata=table_metadata(metadata, columns),
    )
    for column in plan["learned_links"]:
        # Keys of a kept (public) table: every one may be generated, so none is pooled.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IdentifierLearnedWarning)
            sequences.metadata.update_column(column, kind="categorical", rare_category_threshold=0)
    return sequences


def _root_conditions(
    conditions: Mapping[str, Any] | None, layout: Mapping[str, Any]
) -> dict[str, Mapping[str, Any]]:
    """Conditions per root table, from ``{column: ...}`` or ``{table: {column: ...}}``."""
    if not conditions:
        return {}
    if not isinstance(conditions, Mapping):
        raise ConditionError(
            "conditions must be a dict such as {'age': (30, 40)} (on the root table) or "
            f"{{'patients': {{'age': (30, 40)}}}}; got {type(conditions).__name__}."
        )
    roots = [n for n in layout["order"] if layout["tables"][n]["role"] in ("root", "unlearned")]
    children = [k for k in conditions if k in layout["tables"] and k not in roots]
    if children:
        raise ConditionError(
            f"Conditions name table(s) {children}, which are not synthesized root tables; "
            f"conditions apply to the root tables {roots}. Condition on a root's columns; "
            "the children follow from their parents."
        )
    if all(k in roots and isinstance(v, Mapping) for k, v in conditions.items()):
        by_table = dict(conditions)
    else:
        root = layout["dataset"]["root"]
        if root not in roots:
            raise ConditionError(
                f"Conditions {sorted(conditions)} name no root table; the synthesized root "
                f"tables are {roots}. Pass {{<root table>: {{<column>: <value>}}}}."
            )
        by_table = {root: conditions}
    for table in by_table:
        if layout["tables"][table]["role"] == "unlearned":
            raise ConditionError(
                f"Root table {table!r} has no learned columns to condition on; drop its conditions."
            )
    return by_table


def _dataset_state(dataset: RecordDataset) -> dict[str, Any]:
    """What rebuilding the dataset's shape over synthetic tables needs, as JSON."""
    metadata = getattr(dataset, "_metadata", None)
    return {
        "relationships": [r.to_dict() for r in dataset.relationships],
        "root": dataset.root,
        "primary_keys": dict(dataset.primary_keys),
        "generated": {k: list(v) for k, v in dataset.generated.items()},
        "independent": list(dataset.independent),
        "schemas": {k: schema_to_text(v) for k, v in dataset.schemas.items()},
        "metadata": None if metadata is None else metadata.to_dict(),
    }


def _dataset_from_state(state: Mapping[str, Any], tables: dict[str, pd.DataFrame]) -> RecordDataset:
    metadata = state.get("metadata")
    return RecordDataset(
        tables,
        [Relationship.from_dict(r) for r in state["relationships"]],
        root=state["root"],
        primary_keys=state["primary_keys"],
        generated=state["generated"],
        schemas={k: schema_from_text(v) for k, v in state["schemas"].items()},
        metadata=None if metadata is None else MultiTableMetadata.from_dict(metadata),
        independent=state.get("independent", []),  # model files before it was stored: none
    )
