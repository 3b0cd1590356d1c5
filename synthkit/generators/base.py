"""The generator contract: one base for every model shape, one template for single tables.

:class:`BaseSynthesizer` holds what every model shares, whatever the shape of its
data: scikit-learn style parameters (``get_params``/``set_params``, ``clone``), their
declared constraints checked in one place, device resolution and seeding, the
epoch loop with progress bar and early stopping, evaluation mode, declared
capabilities, and the model's state to and from a model file
(:meth:`~BaseSynthesizer._get_state` / :meth:`~BaseSynthesizer._set_state`: a
tree of named encoders, networks and submodels). :class:`Synthesizer` is the
single-table template built on it (validate, encode, ``_fit``; ``_sample``,
decode; conditions). A sequence or multi-table model subclasses
``BaseSynthesizer`` the same way.

Conditioning reaches a model's ``_sample(n, context)`` as a
:class:`~synthkit.generators.conditions.Context` in the model's encoded space:
the encoded values some features must take (CTGAN's native categorical
condition is the one-hot block of the conditioned column) and/or masks of the
values a feature may take (the autoregressive model's token restrictions).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from synthkit._params import (
    BOOLEAN,
    DEVICE,
    RANDOM_STATE,
    Interval,
    merged_constraints,
    validate_params,
)
from synthkit._runtime import resolve_device, seed_from, torch_seeded
from synthkit.errors import (
    ConditionError,
    DataError,
    NotFittedError,
    ParameterError,
)
from synthkit.generators.conditions import (
    CategoryCondition,
    Condition,
    Context,
    parse_conditions,
)
from synthkit.generators.distributed import data_parallel, group_mean, process_group
from synthkit.generators.optimizer import DecayingAdamW, LinearDecay
from synthkit.generators.persistence import save_model
from synthkit.generators.registry import GENERATORS
from synthkit.generators.weight_average import WeightAverage
from synthkit.metadata import Metadata
from synthkit.processing.encoder import TableEncoder
from synthkit.processing.validation import check_frame
from synthkit.rules._sampling import needs_rejection, sample_with_rules

if TYPE_CHECKING:
    from synthkit.generators.streamed_source import StreamSource

__all__ = ["GENERATORS", "BaseSynthesizer", "Synthesizer"]

#: Categories seen in fewer training rows than this are pooled by default (privacy):
#: a synthetic row never carries a category that only a handful of people share.
RARE_CATEGORY_THRESHOLD = 5

_MAX_REJECTION_ROUNDS = 20
# Rejection gives up after drawing this many rows per requested row.
_MAX_REJECTION_FACTOR = 50


class BaseSynthesizer:
    """What every generative model shares, whatever the shape of its data.

    scikit-learn's conventions hold: ``__init__`` only stores its parameters,
    ``fit`` validates and learns and returns ``self``, learned attributes end in
    ``_``, and ``get_params`` / ``set_params`` work (so ``sklearn.base.clone``
    does). Parameter constraints are declared once per class in
    ``_parameter_constraints`` (merged along the class hierarchy) and checked by
    :meth:`_validate_params` at the start of ``fit``, with messages naming the
    parameter, the value and what is allowed.

    Subclasses provide the data-shape template (``fit``, ``sample``), name their
    networks in :meth:`_modules` and their encoders in :meth:`_encoder_states` /
    :meth:`_restore_encoders`, and rebuild networks in :meth:`_build_modules`.
    State travels as a tree (:meth:`_get_state`): ``{"encoders": {name: JSON},
    "networks": {name: state dict}, "submodels": {name: model}, "fitted": {JSON}}``.

    Capabilities beyond ``fit``/``sample`` are declared in ``capabilities``
    (``"log_prob"``: scores rows' log-likelihood; ``"impute"``: fills missing
    cells); a model has the matching method exactly when it declares it.
    """

    #: Registered name of the model.
    name: ClassVar[str] = ""
    #: Methods beyond fit/sample this model offers (``"log_prob"``, ``"impute"``).
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: Allowed values of the parameters every model takes; subclasses add theirs.
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "epochs": [Interval(int, 1, None)],
        "batch_size": [Interval(int, 1, None)],
        "patience": [Interval(int, 1, None), None],
        "rare_category_threshold": [Interval(int, 0, None)],
        "device": [DEVICE],
        "random_state": [RANDOM_STATE],
        "verbose": [BOOLEAN],
    }

    # ------------------------------------------------------------ parameters
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [
            p.name
            for p in signature.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the constructor parameters, as scikit-learn estimators do."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> BaseSynthesizer:
        """Set constructor parameters; returns ``self``."""
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ParameterError(
                    f"{type(self).__name__} has no parameter {key!r}; valid: {sorted(valid)}."
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) != v]
        return f"{type(self).__name__}({', '.join(changed)})"

    @classmethod
    def _constraints(cls) -> dict[str, list[Any]]:
        """Every declared constraint of this class and its bases."""
        return merged_constraints(cls)

    def _validate_params(self) -> None:
        """Check every parameter against its declared constraints, then their relations."""
        validate_params(type(self).__name__, self.get_params(), self._constraints())
        self._check_param_relations()

    def _check_param_relations(self) -> None:
        """Checks that involve several parameters (models override)."""

    # -------------------------------------------------------------- training
    def _start_fit(self) -> tuple[torch.device, int]:
        """Validate the parameters; return the device to fit on and the fit's seed."""
        self._validate_params()
        return resolve_device(self.device), seed_from(self.random_state)

    def _shuffled_rows(self, n_rows: int) -> tuple[int, Iterator[torch.Tensor]]:
        """Steps per epoch, and row-index batches reshuffled at the start of every epoch.

        The iterator never ends; the training loop decides how many epochs to run.
        In a ``torch.distributed`` group every process draws the same permutation
        (the fit's seed is shared) and keeps its own slice of each batch, so the
        group's global batch is ``batch_size`` whatever the number of processes.
        """
        rank, world = process_group()

        def batches() -> Iterator[torch.Tensor]:
            while True:
                order = torch.randperm(n_rows, device=self.device_)
                for start in range(0, n_rows, self.batch_size):
                    yield order[start : start + self.batch_size][rank::world]

        return max(-(-n_rows // self.batch_size), 1), batches()

    def _shuffled_batches(self, encoded: torch.Tensor) -> tuple[int, Iterator[torch.Tensor]]:
        """Steps per epoch, and batches of ``encoded``'s rows (see :meth:`_shuffled_rows`).

        ``encoded`` may also be a streamed table
        (:class:`~synthkit.generators.streamed_rows.StreamedRows`), which reads,
        encodes and shuffles its rows as training draws them.
        """
        if not isinstance(encoded, torch.Tensor):
            return encoded.shuffled_batches(self.batch_size, self.device_)
        n_steps, rows = self._shuffled_rows(encoded.shape[0])
        return n_steps, (encoded[batch] for batch in rows)

    def _training_module(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` as the training loop should call it.

        Inside a ``torch.distributed`` group this is the module wrapped for data
        parallel training (gradients averaged across processes); otherwise the
        module itself.
        """
        return data_parallel(module)

    def _optimizer(self, parameters: Any, total_steps: int) -> tuple[DecayingAdamW, LinearDecay]:
        """AdamW at ``learning_rate`` decayed linearly to a tenth over ``total_steps``.

        The decay sharpens the final fit; every model that trains with ``learning_rate``
        and ``weight_decay`` parameters uses it (:mod:`synthkit.generators.optimizer`:
        torch's AdamW update without the optimizer class's import of its compiler).
        """
        optimizer = DecayingAdamW(parameters, lr=self.learning_rate, weight_decay=self.weight_decay)
        return optimizer, LinearDecay(optimizer, total_steps, final=0.1)

    def _run_epochs(
        self,
        n_steps: int,
        step: Callable[[], dict[str, torch.Tensor]],
        monitor: Callable[[dict[str, float]], float],
        epochs: int | None = None,
        validate: Callable[[], float] | None = None,
        patience: int | None = None,
        average: float | None = None,
    ) -> int | None:
        """Run the training loop shared by all models.

        Losses are summed on the device and read once per epoch, so the loop does
        not wait on the host every batch. With ``patience`` set, training stops
        when the monitored value has not improved for that many epochs. ``epochs``
        overrides the ``epochs`` parameter (a private fit runs fewer when its
        budget runs out).

        With ``validate`` (a held-out loss, recorded as ``val_loss``), that loss is
        the monitored value instead, and the weights of :meth:`_modules` at the
        epoch where it was lowest are loaded back at the end. ``patience`` given
        here overrides the parameter.

        With ``average`` (a decay, :class:`~synthkit.generators.weight_average.WeightAverage`),
        the networks end with the moving average of their weights over the steps,
        and the held-out loss and the kept weights are the average's.

        Returns:
            With ``validate``, the epoch whose weights were kept (counted from 1);
            else None.
        """
        patience = self.patience if patience is None else patience
        history: list[dict[str, float]] = []
        best, waited = math.inf, 0
        best_epoch, best_weights = None, None
        averaged = WeightAverage(self._modules(), average) if average else None
        # Held-out losses and kept weights are the average's, when there is one.
        swapped = averaged.applied if averaged is not None else nullcontext
        bar = tqdm(
            range(self.epochs if epochs is None else epochs),
            desc=f"Fitting {self.name}",
            disable=not self.verbose,
            unit="epoch",
        )
        for epoch in bar:
            totals: dict[str, torch.Tensor] = {}
            for _ in range(n_steps):
                for key, value in step().items():
                    totals[key] = totals.get(key, 0) + value.detach()
                if averaged is not None:
                    averaged.update()
            # In a process group every process records (and stops on) the group's mean.
            means = {k: group_mean(float(v) / n_steps) for k, v in totals.items()}
            row = {"epoch": epoch + 1, **means}
            if validate is not None:
                with swapped():
                    row["val_loss"] = validate()
            history.append(row)
            bar.set_postfix({k: f"{v:.3f}" for k, v in row.items() if k != "epoch"})
            if validate is not None:  # the lowest held-out loss, however small the gain
                value, gain = row["val_loss"], 0.0
            elif patience:
                value, gain = monitor(row), 1e-4
            else:
                continue
            if not math.isfinite(best) or value < best - gain * abs(best):
                best, waited = value, 0
                if validate is not None:
                    with swapped():
                        best_epoch, best_weights = epoch + 1, self._weights()
            else:
                waited += 1
                if patience and waited >= patience:
                    break
        if best_weights is not None:
            for name, module in self._modules().items():
                module.load_state_dict(best_weights[name])
        elif averaged is not None:
            averaged.copy_to()
        self.loss_history_ = pd.DataFrame(history)
        return best_epoch

    def _weights(self) -> dict[str, dict[str, torch.Tensor]]:
        """A copy of every network's weights (:meth:`_modules`), by network."""
        return {
            name: {key: value.detach().clone() for key, value in module.state_dict().items()}
            for name, module in self._modules().items()
        }

    def _eval_mode(self) -> None:
        """Switch the model's networks to inference mode."""
        for module in self._modules().values():
            module.eval()

    # --------------------------------------------------------------- state
    def _modules(self) -> dict[str, torch.nn.Module]:
        """The networks whose state dicts are saved (models override)."""
        return {}

    def _build_modules(self) -> None:
        """Create the networks of a fitted model from its encoders (models override)."""

    def _submodels(self) -> dict[str, BaseSynthesizer]:
        """Fitted models this one is made of, saved in the same file (models override)."""
        return {}

    def _encoder_states(self) -> dict[str, dict[str, Any]]:
        """Each fitted encoder's JSON state by name (models override)."""
        return {}

    def _restore_encoders(self, states: Mapping[str, dict[str, Any]]) -> None:
        """Rebuild the encoders from :meth:`_encoder_states` output (models override)."""

    def _get_state(self) -> dict[str, Any]:
        """The fitted state as a tree of named components, for the model file.

        Returns:
            ``{"encoders": {name: JSON state}, "networks": {name: state dict},
            "submodels": {name: fitted model}, "fitted": {JSON attributes}}``.
        """
        self._check_fitted()
        return {
            "encoders": self._encoder_states(),
            "networks": {name: m.state_dict() for name, m in self._modules().items()},
            "submodels": self._submodels(),
            "fitted": {
                "loss_history": self.loss_history_.to_dict(orient="list"),
                "n_rows_fitted": self.n_rows_fitted_,
            },
        }

    def _set_state(self, state: Mapping[str, Any]) -> None:
        """Become the fitted model that :meth:`_get_state` described.

        Networks are rebuilt from the encoders and get the saved weights, on this
        model's ``device`` (a GPU-fitted model loads on a CPU).
        """
        self.device_ = resolve_device(self.device)
        fitted = state.get("fitted", {})
        self._restore_encoders(state["encoders"])
        self._set_submodels(dict(state.get("submodels", {})))
        self.loss_history_ = pd.DataFrame(fitted.get("loss_history", {}))
        self._build_modules()
        networks = state.get("networks", {})
        modules = self._modules()
        if set(networks) != set(modules):
            raise ValueError(f"networks {sorted(networks)} saved, {sorted(modules)} expected")
        for name, module in modules.items():
            module.load_state_dict(networks[name], strict=True)
            module.to(self.device_)
        self.n_rows_fitted_ = fitted.get("n_rows_fitted")

    def _set_submodels(self, submodels: dict[str, BaseSynthesizer]) -> None:
        """Take back the submodels of :meth:`_submodels` (models override)."""
        if submodels:
            raise ValueError(f"{type(self).__name__} has no submodels; got {sorted(submodels)}")

    def save(self, path: str | Path) -> Path:
        """Save the fitted model to one file (JSON and safetensors in a zip; no pickle).

        Example:
            >>> import tempfile, pathlib, synthkit
            >>> from synthkit.datasets import load_adult
            >>> model = synthkit.Synthesizer("tvae", epochs=1, verbose=False).fit(
            ...     load_adult().head(500))
            >>> path = model.save(pathlib.Path(tempfile.mkdtemp()) / "adult.synthkit")
            >>> synthkit.load_model(path).sample(3).shape
            (3, 15)
        """
        self._check_fitted()
        return save_model(self, path)

    def sample_to(
        self,
        path: str | Path,
        n: int | None = None,
        *,
        shard_rows: int = 1_000_000,
        n_entities: int | None = None,
        shard_entities: int | None = None,
        random_state: int = 0,
        conditions: Mapping[str, Any] | None = None,
        client: Any = None,
        workers: int | None = None,
        retries: int = 2,
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """Sample ``n`` rows on a Dask cluster into ``path/part-000000.parquet``, ...

        Shard ``i`` (``shard_rows`` rows, the last one fewer) is drawn with a seed
        spawned from ``(random_state, i)``, and parts are written with fixed Parquet
        options, so the files are byte-identical whatever the number of workers.
        Workers receive the model file's bytes once (checked by SHA-256), never a
        pickle. Each part is written atomically; ``_manifest.json`` (model hash,
        seeds, rows and hash per part, versions) is written last. A rerun after a
        crash keeps the parts already written and draws only the missing ones.
        Needs ``pip install "synthkit[dask]"``.

        A sequence model shards by entity: ``n_entities`` entities in parts of
        ``shard_entities`` whole entities, written to ``path/events/part-*.parquet``
        and ``path/context/part-*.parquet``; entity keys are unique across parts
        (each part has its own segment of the key space) and never real keys.

        Args:
            path: Output directory (local path or fsspec URL every worker can reach).
            n: Number of rows (for a sequence model: entities).
            shard_rows: Rows per part (table models).
            n_entities: Number of entities (sequence models).
            shard_entities: Entities per part (sequence models; default 100,000).
            random_state: The run's seed.
            conditions: As in :meth:`Synthesizer.sample`; every part meets them.
            client: A ``dask.distributed.Client``; None starts a ``LocalCluster`` on
                this machine for the call.
            workers: Worker processes of that ``LocalCluster`` (default 1).
            retries: Times a failed shard is retried.
            overwrite: Replace output of a different run in ``path`` instead of refusing.

        Returns:
            The manifest, as written to ``_manifest.json``, plus ``"run"``: the
            shards this call drew, those it kept, and those that took more than
            one attempt (a retry, a worker that died).

        Raises:
            ShardedOutputError: If ``path`` holds output of a different run, or a shard
                fails after its retries.

        Example:
            >>> import tempfile, synthkit
            >>> from synthkit.datasets import load_adult
            >>> from dask.distributed import Client, LocalCluster
            >>> model = synthkit.Synthesizer("tvae", epochs=1, verbose=False).fit(
            ...     load_adult().head(300))
            >>> with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
            ...                   dashboard_address=":0") as cluster, Client(cluster) as client:
            ...     manifest = model.sample_to(tempfile.mkdtemp(), 30, shard_rows=20,
            ...                                client=client)
            >>> [part["file"] for part in manifest["parts"]]
            ['part-000000.parquet', 'part-000001.parquet']
        """
        from synthkit.generators.sharding import sample_to

        return sample_to(
            self,
            str(path),
            n,
            shard_rows=shard_rows,
            n_entities=n_entities,
            shard_entities=shard_entities,
            random_state=random_state,
            conditions=conditions,
            client=client,
            workers=workers,
            retries=retries,
            overwrite=overwrite,
        )

    def _check_fitted(self) -> None:
        # fit sets n_rows_fitted_ last, so a fit that failed half-way is not "fitted".
        if not hasattr(self, "n_rows_fitted_"):
            raise NotFittedError(
                f"This {type(self).__name__} has not been fitted yet. Call fit(data) before "
                "sample(), save() or other methods that need a trained model."
            )


class _Dispatch(type):
    """``Synthesizer("ctgan", **params)`` builds the registered class for that name."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Synthesizer:
            if args:
                model, args = args[0], args[1:]
            elif "model" in kwargs:
                model = kwargs.pop("model")
            else:
                raise ParameterError(
                    f"Name a model, e.g. Synthesizer('ctgan'); known: {GENERATORS.names()}."
                )
            return GENERATORS.get(model)(*args, **kwargs)
        _refuse_privacy(cls, kwargs)
        return super().__call__(*args, **kwargs)


_PRIVACY_PARAMS = ("epsilon", "delta", "max_grad_norm", "noise_multiplier")


def _refuse_privacy(cls: type, kwargs: dict[str, Any]) -> None:
    """A model without differentially private training says so, rather than a TypeError."""
    names = set(inspect.signature(cls.__init__).parameters)
    asked = [p for p in _PRIVACY_PARAMS if p in kwargs and p not in names]
    if asked:
        raise ParameterError(
            f"{cls.__name__} has no differentially private training ({', '.join(asked)} "
            "given); among the table models only Synthesizer('ar', epsilon=...) supports it."
        )


class Synthesizer(BaseSynthesizer, metaclass=_Dispatch):
    """A generative model of one table.

    ``Synthesizer(model, **params)`` builds the model registered under ``model``
    (``"ctgan"``, ``"tvae"``, ...). Every model follows scikit-learn's conventions:
    ``__init__`` only stores its parameters, ``fit`` validates and learns and
    returns ``self``, learned attributes end in ``_``, and ``get_params`` /
    ``set_params`` work. Subclasses implement ``_fit(encoded)`` and
    ``_sample(n, context)`` on encoded tensors; this class does validation,
    encoding, conditioning, decoding and seeding, and :class:`BaseSynthesizer`
    the parameters, training loop and persistence. ``fit`` refuses sequence and
    multi-table data, naming the model class for them.

    Example:
        >>> import synthkit
        >>> from synthkit.datasets import load_adult
        >>> real = load_adult().sample(1000, random_state=0)
        >>> model = synthkit.Synthesizer("ctgan", epochs=1, verbose=False, random_state=0)
        >>> rich = model.fit(real).sample(50, conditions={"income": ">50K"})
        >>> bool((rich["income"] == ">50K").all())
        True
    """

    #: Whether ``_sample`` can condition on categorical values natively.
    native_conditions: ClassVar[bool] = False

    # --------------------------------------------------------------------- fit
    def fit(
        self,
        data: pd.DataFrame | str | Path | list[str | Path] | StreamSource,
        metadata: Metadata | None = None,
        *,
        memory_budget: int | str | None = None,
    ) -> Synthesizer:
        """Learn the model from a real table, in memory or streamed from files.

        A DataFrame is fitted in memory. Parquet files (a path, a glob such as
        ``"data/*.parquet"``, a directory or a list of paths) or a batch source
        (``synthkit.batch_source(uri)`` over any format ``iter_batches`` reads)
        are streamed: read in passes of record batches, never whole, holding at
        most ``memory_budget`` of data (see :mod:`synthkit.generators.streamed`).
        The autoregressive and flow models stream; others, and private fits
        (``epsilon``), need a frame.

        Args:
            data: The real table, or the files or source to stream it from.
                Columns of kind ``id`` and ``pii`` are not learned.
            metadata: Column kinds; detected with :meth:`Metadata.detect` when omitted
                (for a streamed fit, from a uniform sample of rows).
            memory_budget: For a streamed fit, the memory its data may take: bytes, or
                text such as ``"256MB"`` or ``"1GiB"`` (default 256 MB).

        Returns:
            ``self``, fitted.

        Raises:
            DataError: For empty data, all-null columns, mixed-type or infinite values,
                sequence or multi-table data (those have their own model classes), or
                files that match nothing or differ in schema.
            ParameterError: For invalid parameters or an unavailable device, a model
                that cannot stream, or ``memory_budget`` with a DataFrame.

        Example:
            >>> import tempfile, pathlib, synthkit
            >>> from synthkit.datasets import load_adult
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "adult.parquet"
            >>> synthkit.save(load_adult().head(500), path, row_group_size=100)
            >>> model = synthkit.Synthesizer("flow", epochs=1, verbose=False, random_state=0)
            >>> model.fit(path, memory_budget="32MB").sample(3).shape
            (3, 15)
        """
        from synthkit.generators.streamed_source import is_streamed

        if is_streamed(data):
            from synthkit.generators.streamed import fit_streamed

            return fit_streamed(self, data, metadata, memory_budget)
        if memory_budget is not None:
            raise ParameterError(
                "memory_budget applies to streamed fits (Parquet paths, a glob or a batch "
                "source); a DataFrame is fitted in memory. Drop memory_budget, or pass the "
                "files instead of the frame."
            )
        _refuse_other_shapes(data, metadata)
        device, seed = self._start_fit()
        check_frame(data)
        metadata = Metadata.for_data(data, metadata)
        with torch_seeded(seed, device):
            encoder = self._new_encoder().fit(data, metadata, device=device)
            encoded = encoder.encode(data, random_state=seed, device=device)
            if encoder.output_dim_ == 0:
                raise DataError(
                    "Every learned column is constant (or the data has one row), so there is "
                    "nothing to learn: synthetic rows would copy the real one. Fit on more "
                    "varied data."
                )
            self.encoder_ = encoder
            self.metadata_ = encoder.metadata_
            self.device_ = device
            self.loss_history_ = pd.DataFrame()
            self._fit(encoded)
        self.n_rows_fitted_ = len(data)
        return self

    def _new_encoder(self) -> TableEncoder:
        """The unfitted encoder this model learns in (models with other encodings override)."""
        return TableEncoder(rare_category_threshold=self.rare_category_threshold)

    @classmethod
    def _encoder_from_state(cls, state: dict[str, Any]) -> TableEncoder:
        """Rebuild this model's encoder from a saved state."""
        return TableEncoder.from_state(state)

    def _fit(self, encoded: torch.Tensor) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ sample
    def sample(
        self,
        n: int,
        conditions: Mapping[str, Any] | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> pd.DataFrame:
        """Draw ``n`` synthetic rows.

        Args:
            n: Number of rows, at least 1.
            conditions: Optional ``{column: value}``; a list of values or a
                ``(low, high)`` range also works. One categorical condition is met
                through the model's own conditioning where the model has it;
                further conditions use batched rejection with a bounded number of
                tries.
            random_state: Seed for reproducible samples.

        Returns:
            A frame with the real table's columns, order and dtypes.

        Raises:
            NotFittedError: Before :meth:`fit`.
            ParameterError: If ``n`` is not a positive integer.
            ConditionError: For unknown columns or values, or conditions that the
                model cannot meet within the allowed tries.
        """
        self._check_fitted()
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ParameterError(f"n={n!r}: the number of rows must be a positive integer.")
        n = int(n)
        parsed = parse_conditions(conditions, self.encoder_)
        seed = seed_from(random_state)
        with torch_seeded(seed, self.device_):
            self._eval_mode()
            with torch.no_grad():
                if needs_rejection(self.encoder_, parsed):  # rules kept by rejection
                    return sample_with_rules(self, n, parsed, seed)
                if not parsed:
                    return self.encoder_.decode(self._sample(n, None), random_state=seed)
                return self._sample_conditioned(n, parsed, seed)

    def _sample(self, n: int, context: Context | None) -> torch.Tensor:
        """Return ``n`` encoded rows.

        ``context`` is None, or (models with ``native_conditions`` only) the
        encoded values each row must take in some features: the one-hot block of
        a conditioned categorical column.
        """
        raise NotImplementedError

    def _sample_conditioned(self, n: int, conditions: list[Condition], seed: int) -> pd.DataFrame:
        native = self._native_condition(conditions)
        rest = [c for c in conditions if c is not native]
        collected: list[pd.DataFrame] = []
        have = 0
        # The expected acceptance rate sizes each batch; it is re-estimated as we go.
        expected = 1.0 if native is not None else _prior_share(conditions)
        batch = n
        drawn = 0
        for attempt in range(_MAX_REJECTION_ROUNDS):
            if drawn > _MAX_REJECTION_FACTOR * n + 10_000:
                break
            need = n - have
            batch = int(min(max(need / max(expected, 1e-3) * 1.2, need), 10 * n + 1000))
            frame = self._draw(batch, native, seed + attempt)
            drawn += batch
            mask = np.ones(len(frame), dtype=bool)
            for condition in rest:
                mask &= condition.mask(frame)
            accepted = frame[mask]
            expected = max(len(accepted) / len(frame), 1e-4)
            collected.append(accepted)
            have += len(accepted)
            if have >= n:
                return pd.concat(collected, ignore_index=True).iloc[:n]
        raise ConditionError(
            f"Only {have} of {n} rows met the conditions {list(c.column for c in conditions)} "
            f"after drawing {drawn:,} rows; the model rarely generates such rows. Loosen the "
            "conditions, condition on fewer columns, or use a model that conditions natively."
        )

    def _native_condition(self, conditions: list[Condition]) -> CategoryCondition | None:
        categorical = [c for c in conditions if isinstance(c, CategoryCondition)]
        if not self.native_conditions or not categorical:
            return None
        return min(categorical, key=lambda c: c.share)  # the rarest one gains most

    def _draw(self, n: int, native: CategoryCondition | None, seed: int) -> pd.DataFrame:
        if native is None:
            return self.encoder_.decode(self._sample(n, None), random_state=seed)
        # Spread the rows over the allowed categories by their training frequency.
        probs = torch.tensor(native.frequencies, dtype=torch.float32, device=self.device_)
        choice = torch.multinomial(probs / probs.sum(), n, replacement=True)
        indices = torch.tensor(native.indices, device=self.device_)[choice]
        span = self.encoder_.span_of(native.column, "category")
        context = Context(
            values=torch.nn.functional.one_hot(indices, span.width).float(),
            features=range(span.start, span.stop),
        )
        encoded = self._sample(n, context).clone()
        # The model drew the other columns given this category; write the category
        # itself into its block so the output carries exactly the asked-for value.
        encoded[:, span.start : span.stop] = context.values.to(encoded.dtype)
        return self.encoder_.decode(encoded, random_state=seed)

    # ------------------------------------------------------------- state
    def _encoder_states(self) -> dict[str, dict[str, Any]]:
        return {"table": self.encoder_.to_state()}

    def _restore_encoders(self, states: Mapping[str, dict[str, Any]]) -> None:
        self.encoder_ = self._encoder_from_state(states["table"])
        self.metadata_ = self.encoder_.metadata_


def _refuse_other_shapes(data: object, metadata: Metadata | None) -> None:
    """Refuse sequence and multi-table data, which a single-table model would scramble."""
    sequences = (
        "Fit event histories with synthkit.SequenceSynthesizer, which keeps each "
        "entity's rows together."
    )
    if not isinstance(data, pd.DataFrame):
        # Imported only here: a frame, the usual input, needs no dataset shapes.
        from synthkit.schema import RecordDataset, SequenceDataset

        if isinstance(data, SequenceDataset):
            raise DataError(
                f"Synthesizer.fit got a SequenceDataset (entity key {data.sequence_key!r}): "
                f"a single-table model would scatter every entity's history. {sequences}"
            )
        if isinstance(data, RecordDataset):
            raise DataError(
                "Synthesizer.fit got a RecordDataset of related tables: a single-table model "
                "would break their keys. Fit related tables with synthkit.RecordSynthesizer."
            )
    key = getattr(metadata, "sequence_key", None)
    if key is not None:
        raise DataError(
            f"The metadata names sequence_key={key!r}: the rows are event histories, which "
            "a single-table model would scatter (it regenerates the key per row). "
            f"{sequences} Or drop the sequence key from the metadata to treat the rows as "
            "independent."
        )


def _prior_share(conditions: list[Condition]) -> float:
    shares = [c.share for c in conditions if isinstance(c, CategoryCondition)]
    return float(np.prod(shares)) if shares else 0.5
