"""Sharded sampling on a Dask cluster: deterministic Parquet parts, a manifest, resume.

``model.sample_to(path, n, shard_rows=...)`` splits ``n`` rows into shards of
``shard_rows`` rows. Shard ``i`` is drawn with a seed derived from
``(random_state, i)`` by numpy's ``SeedSequence`` spawning, and each part is written
with fixed Parquet options, so the bytes depend only on the model file,
``random_state``, ``n``, ``shard_rows`` and the conditions: never on how many
workers run or in what order.

The model reaches workers once, as its model file's bytes (one task's result,
fetched by each worker that needs it, and recomputed by the scheduler if the worker
holding it dies), never as a pickle of the Python object; each worker checks the
bytes' SHA-256 hash and rebuilds the model with the safe model-file loader.

Each part is written to a temporary name and renamed; its Parquet footer records
the run's fingerprint, so a rerun keeps the parts of the same run and draws only
the missing ones. ``_manifest.json`` is written last.

Sequence models shard by entity: ``model.sample_to(path, n_entities=...,
shard_entities=...)`` draws each shard as a set of whole entities and writes
``events/part-000000.parquet`` (and ``context/part-000000.parquet`` when the
model has a context table). Entity keys come from a segment of the key space
that belongs to the shard (:mod:`synthkit.generators.shard_keys`), so they are
unique across shards and never real keys.

The manifest depends only on the run, so a whole output directory is
byte-identical whatever the workers; how many attempts each shard took (a worker
that died, a write that failed) is logged and returned under ``"run"``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import platform
import re
import threading
import uuid
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from synthkit._registry import import_optional
from synthkit.errors import ParameterError, ShardedOutputError
from synthkit.generators.persistence import load_model_bytes, model_bytes
from synthkit.generators.shard_keys import shard_keys

__all__ = ["MANIFEST_NAME", "sample_to", "shard_seed", "write_shard"]

MANIFEST_NAME = "_manifest.json"
_FORMAT = "synthkit.sharded/1"
_FORMAT_SEQUENCES = "synthkit.sharded-sequences/1"
_PART = re.compile(r"^part-(\d{6,})\.parquet$")
_FINGERPRINT_KEY = b"synthkit.shard"
_ROWS_KEY = b"synthkit.shard.rows"
# Fixed writer options: the same table gives the same bytes on every worker.
_PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "version": "2.6",
    "data_page_version": "1.0",
    "use_dictionary": True,
    "write_statistics": True,
    "row_group_size": 131_072,
}
_VERSIONED = ("synthkit", "numpy", "pandas", "pyarrow", "torch", "dask", "distributed")
_LOG = logging.getLogger(__name__)

# Torch seeds and thread settings are process-global: shards drawn by threads of
# one process take turns, so each is drawn alone on one thread, as on any worker.
_SAMPLE_LOCK = threading.Lock()
_MODEL_CACHE: dict[str, Any] = {}


def shard_seed(random_state: int, index: int) -> int:
    """The sampling seed of shard ``index``: ``SeedSequence(random_state).spawn(...)[index]``.

    Example:
        >>> import numpy as np
        >>> child = np.random.SeedSequence(0).spawn(3)[2]
        >>> shard_seed(0, 2) == int(child.generate_state(1, np.uint64)[0] >> np.uint64(1))
        True
    """
    sequence = np.random.SeedSequence(random_state, spawn_key=(index,))
    return int(sequence.generate_state(1, np.uint64)[0] >> np.uint64(1))


def sample_to(
    model: Any,
    path: str,
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
    """Sample on a Dask cluster into a directory of Parquet parts.

    See :meth:`synthkit.generators.base.BaseSynthesizer.sample_to`, which calls this.
    A table model draws ``n`` rows in shards of ``shard_rows``; a sequence model
    draws ``n_entities`` entities (``n`` is accepted as a synonym) in shards of
    ``shard_entities`` whole entities (default 100,000).

    Example:
        >>> import tempfile, synthkit
        >>> from synthkit.datasets import load_adult
        >>> from dask.distributed import Client, LocalCluster
        >>> model = synthkit.Synthesizer("tvae", epochs=1, verbose=False).fit(
        ...     load_adult().head(300))
        >>> with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
        ...                   dashboard_address=":0") as cluster, Client(cluster) as client:
        ...     manifest = sample_to(model, tempfile.mkdtemp(), 50, shard_rows=20, client=client)
        >>> [part["rows"] for part in manifest["parts"]]
        [20, 20, 10]
    """
    sequences = _check_model(model)
    if sequences:
        total, size = _entity_sizes(n, n_entities, shard_rows, shard_entities)
    else:
        if n_entities is not None or shard_entities is not None:
            raise ParameterError(
                f"n_entities= and shard_entities= are for sequence models; {model.name!r} is a "
                "table model: pass n= rows and shard_rows= instead."
            )
        total, size = _positive("n", n), _positive("shard_rows", shard_rows)
    random_state = _check_seed(random_state)
    if client is not None and workers is not None:
        raise ParameterError(
            "Pass either client= (a running cluster) or workers= (a LocalCluster of that "
            "size), not both."
        )
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ParameterError(f"workers={workers!r} must be a positive integer or None.")
    data = model_bytes(model)
    spec: dict[str, Any] = {
        "format": _FORMAT_SEQUENCES if sequences else _FORMAT,
        "model": {"name": model.name, "sha256": hashlib.sha256(data).hexdigest()},
        "random_state": random_state,
        **(
            {"n_entities": total, "shard_entities": size}
            if sequences
            else {"n": total, "shard_rows": size}
        ),
        "conditions": _jsonable_conditions(conditions),
    }
    tables = _tables(model)
    fs, root = fsspec.core.url_to_fs(str(path))
    root = root.rstrip("/")
    counts = [min(size, total - start) for start in range(0, total, size)]
    done = _existing_parts(fs, root, spec, tables, counts, overwrite)
    todo = [i for i in range(len(counts)) if i not in done]
    attempts: dict[int, int] = {}
    if todo:
        written, attempts = _run_shards(
            data, spec, str(path), counts, todo, client, workers, retries
        )
        done.update(written)
    if todo:
        _remove_temporary(fs, root, tables)  # left by workers that died mid-write
    manifest = _manifest(spec, tables, counts, done)
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    _atomic_put(fs, f"{root}/{MANIFEST_NAME}", text.encode("utf-8"))
    retried = {str(i): a for i, a in sorted(attempts.items()) if a > 1}
    if retried:
        _LOG.warning("sample_to %s: shards drawn more than once (attempts): %s", path, retried)
    # Only in the returned dict: the file stays a function of the run alone.
    manifest["run"] = {"drawn": todo, "kept": len(counts) - len(todo), "retried": retried}
    return manifest


def _manifest(
    spec: Mapping[str, Any],
    tables: tuple[str, ...],
    counts: list[int],
    done: Mapping[int, Mapping[str, Mapping[str, Any]]],
) -> dict[str, Any]:
    parts = []
    for i, count in enumerate(counts):
        seeds = {
            "index": i,
            "seed_entropy": spec["random_state"],
            "spawn_key": [i],
            "seed": shard_seed(spec["random_state"], i),
        }
        if tables == ("",):
            info = done[i][""]
            parts.append({**seeds, "file": _part_name(i), "rows": count, **_hash(info)})
        else:
            files = {
                t: {"file": _part_path(t, i), "rows": done[i][t]["rows"], **_hash(done[i][t])}
                for t in tables
            }
            parts.append({**seeds, "entities": count, **files})
    totals = {}
    if tables != ("",):
        totals = {"rows": {t: sum(int(done[i][t]["rows"]) for i in done) for t in tables}}
    return {
        **spec,
        **totals,
        "seeding": "numpy.random.SeedSequence(random_state, spawn_key=(index,)): "
        "generate_state(1, uint64) >> 1",
        "parquet": _PARQUET_OPTIONS,
        "parts": parts,
        "versions": _versions(),
    }


def _hash(info: Mapping[str, Any]) -> dict[str, Any]:
    return {"sha256": info["sha256"], "bytes": info["bytes"]}


def _check_model(model: Any) -> bool:
    """Whether ``model`` is a sequence model; refuse what cannot be sharded."""
    from synthkit.generators.base import BaseSynthesizer, Synthesizer

    sequences = getattr(model, "data_shape", None) == "sequences"
    if not isinstance(model, BaseSynthesizer) or not (sequences or isinstance(model, Synthesizer)):
        raise ShardedOutputError(
            f"sample_to does not support {type(model).__name__}: sharded sampling works for "
            "table models (Synthesizer) and sequence models (SequenceSynthesizer)."
        )
    model._check_fitted()
    return sequences


def _tables(model: Any) -> tuple[str, ...]:
    """The output's tables: ``("",)`` for rows at the root, else sub-directories."""
    if getattr(model, "data_shape", None) != "sequences":
        return ("",)
    return ("events",) if model.layout_["context_columns"] is None else ("events", "context")


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ParameterError(f"{name}={value!r} must be a positive integer.")
    return int(value)


def _entity_sizes(n: Any, n_entities: Any, shard_rows: Any, shard_entities: Any) -> tuple[int, int]:
    if n is not None and n_entities is not None and n != n_entities:
        raise ParameterError(
            f"n={n!r} and n_entities={n_entities!r} differ; for a sequence model pass "
            "n_entities= (the number of entities) only."
        )
    if shard_rows != 1_000_000:
        raise ParameterError(
            "A sequence model shards by entity: pass shard_entities= (entities per part), "
            "not shard_rows=."
        )
    total = _positive("n_entities", n_entities if n_entities is not None else n)
    return total, _positive("shard_entities", 100_000 if shard_entities is None else shard_entities)


def _check_seed(random_state: Any) -> int:
    if (
        isinstance(random_state, bool)
        or not isinstance(random_state, (int, np.integer))
        or random_state < 0
    ):
        raise ParameterError(
            f"random_state={random_state!r} must be an int >= 0: sharded output is "
            "reproducible and resumable only with a fixed seed."
        )
    return int(random_state)


def _jsonable_conditions(conditions: Mapping[str, Any] | None) -> Any:
    if not conditions:
        return None
    try:
        return json.loads(json.dumps(dict(conditions), sort_keys=True))
    except TypeError as error:
        raise ParameterError(
            f"conditions={conditions!r} cannot be recorded in the manifest ({error}); "
            "use numbers, strings, lists or (low, high) pairs."
        ) from None


def _part_name(index: int) -> str:
    return f"part-{index:06d}.parquet"


def _part_path(table: str, index: int) -> str:
    return f"{table}/{_part_name(index)}" if table else _part_name(index)


def _fingerprint(spec: Mapping[str, Any], index: int, table: str = "") -> bytes:
    extra = {"table": table} if table else {}
    return json.dumps({**spec, "index": index, **extra}, sort_keys=True).encode("utf-8")


def _listing(fs: Any, directory: str) -> list[str]:
    if not fs.exists(directory):
        return []
    return [entry.rstrip("/").rsplit("/", 1)[-1] for entry in fs.ls(directory, detail=False)]


def _existing_parts(
    fs: Any,
    root: str,
    spec: Mapping[str, Any],
    tables: tuple[str, ...],
    counts: list[int],
    overwrite: bool,
) -> dict[int, dict[str, dict[str, Any]]]:
    """Shards of this same run already written (index -> table -> hash, bytes, rows).

    A part is kept when its footer carries this run's fingerprint, it has the rows
    it was written with (and a table shard's row count) and, where a manifest lists
    it, the listed hash. A shard counts as written only when all its tables are.
    """
    _remove_temporary(fs, root, tables)
    names = _listing(fs, root)
    if not names:
        return {}
    problem = None
    listed: dict[str, str] = {}
    if MANIFEST_NAME in names:
        old = json.loads(fs.cat_file(f"{root}/{MANIFEST_NAME}"))
        differs = [key for key in spec if old.get(key) != spec[key]]
        if differs:
            problem = f"its {MANIFEST_NAME} is for a different run (differs in {differs})"
        for part in old.get("parts", []):
            for entry in [part, *(v for v in part.values() if isinstance(v, dict))]:
                if "file" in entry:
                    listed[entry["file"]] = entry["sha256"]
    found: dict[int, dict[str, dict[str, Any]]] = {}
    paths: list[str] = []
    for table in tables:
        directory = f"{root}/{table}" if table else root
        entries = names if not table else _listing(fs, directory)
        for name in sorted(e for e in entries if _PART.match(e)):
            paths.append(f"{directory}/{name}")
            if problem is not None:
                continue
            index = int(_PART.match(name).group(1))
            info = _kept_part(fs, f"{directory}/{name}", spec, table, index, counts)
            if info is None:
                continue
            if info == "foreign":
                problem = f"{_part_path(table, index)} was written by a different run"
                continue
            if listed.get(_part_path(table, index), info["sha256"]) == info["sha256"]:
                found.setdefault(index, {})[table] = info
    if problem is None:
        return {i: parts for i, parts in found.items() if set(parts) == set(tables)}
    if not overwrite:
        raise ShardedOutputError(
            f"{root} already holds sharded output: {problem}. Write to another directory, "
            "or pass overwrite=True (--overwrite) to replace it."
        )
    for target in paths + ([f"{root}/{MANIFEST_NAME}"] if MANIFEST_NAME in names else []):
        fs.rm(target)
    return {}


def _remove_temporary(fs: Any, root: str, tables: tuple[str, ...]) -> None:
    """Delete temporary files: a worker killed mid-write leaves one, never a part."""
    for table in tables:
        directory = f"{root}/{table}" if table else root
        for name in _listing(fs, directory):
            if name.startswith(".part-") and name.endswith(".tmp"):
                fs.rm(f"{directory}/{name}")


def _kept_part(
    fs: Any,
    target: str,
    spec: Mapping[str, Any],
    table: str,
    index: int,
    counts: list[int],
) -> dict[str, Any] | str | None:
    """A part's hash, bytes and rows; ``"foreign"`` for another run's; None if damaged."""
    data = fs.cat_file(target)
    try:
        footer = pq.ParquetFile(io.BytesIO(data)).metadata
    except (pa.ArrowInvalid, OSError):
        return None  # damaged: drawn again
    metadata = footer.metadata or {}
    if index >= len(counts) or metadata.get(_FINGERPRINT_KEY) != _fingerprint(spec, index, table):
        return "foreign"
    rows = footer.num_rows
    expected = counts[index] if table in ("", "context") else int(metadata.get(_ROWS_KEY, -1))
    if rows != expected:
        return None  # changed since it was written: drawn again
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "rows": rows}


def _run_shards(
    data: bytes,
    spec: dict[str, Any],
    path: str,
    counts: list[int],
    todo: list[int],
    client: Any,
    workers: int | None,
    retries: int,
) -> tuple[dict[int, dict[str, dict[str, Any]]], dict[int, int]]:
    distributed = import_optional(
        "dask.distributed", extra="dask", purpose="Sharded sampling (model.sample_to)"
    )
    cluster = None
    if client is None:
        try:
            cluster = local_cluster(workers or 1)
        except RuntimeError as error:
            # Worker processes start by re-importing the calling script; without a
            # main guard that script starts them again, and the cluster never comes up.
            raise ShardedOutputError(
                f"The local Dask workers failed to start ({error}). A script that calls "
                'sample_to must do so under `if __name__ == "__main__":`, because each '
                "worker process imports the script; or pass client= a running cluster."
            ) from None
        client = distributed.Client(cluster)
    try:
        # Once per worker, as bytes: workers rebuild the model with the safe loader. A
        # task's result rather than scattered data, so the scheduler can recompute it
        # when the worker holding it dies (scattered data would be lost with it).
        model_future = client.submit(
            _model_file_bytes,
            data,
            key=f"synthkit-model-{spec['model']['sha256'][:16]}-{uuid.uuid4().hex}",
            pure=False,
        )
        futures = {
            client.submit(
                write_shard,
                model_future,
                spec,
                path,
                index,
                counts[index],
                len(counts),
                key=f"synthkit-shard-{spec['model']['sha256'][:16]}-{index}-{uuid.uuid4().hex}",
                retries=retries,
                pure=False,
            ): index
            for index in todo
        }
        written: dict[int, dict[str, dict[str, Any]]] = {}
        for future in distributed.as_completed(futures):
            index = futures[future]
            try:
                written[index] = future.result()
            except Exception as error:
                raise ShardedOutputError(
                    f"Shard {index} failed after {retries} retries ({type(error).__name__}: "
                    f"{error}). The parts written so far are kept: rerun the same call to "
                    "draw only the missing ones."
                ) from error
        return written, _attempts(client, futures)
    finally:
        if cluster is not None:
            client.close()
            cluster.close()


_WORKER_ENVIRON = "distributed.nanny.pre-spawn-environ"
_TRIM = "MALLOC_TRIM_THRESHOLD_"


def local_cluster(n_workers: int = 1) -> Any:
    """A Dask ``LocalCluster`` of worker processes set up as ``sample_to`` starts its own.

    One thread per worker process, one BLAS/OpenMP thread each, and glibc's
    adaptive malloc kept (see :func:`_worker_environ`). Pass a client of it to
    ``sample_to`` to reuse one cluster for several runs.

    Args:
        n_workers: Worker processes.

    Returns:
        The running cluster (use it as a context manager to close it).

    Example:
        >>> from dask.distributed import Client
        >>> with local_cluster(1) as cluster, Client(cluster) as client:
        ...     len(client.scheduler_info()["workers"])
        1
    """
    distributed = import_optional(
        "dask.distributed", extra="dask", purpose="Sharded sampling (model.sample_to)"
    )
    # Dask writes its worker environment into this process's os.environ and leaves
    # it there, so a cluster started earlier would hand the trim threshold on.
    inherited = os.environ.pop(_TRIM, None)
    try:
        with _dask_config().set({_WORKER_ENVIRON: _worker_environ()}):
            return distributed.LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            )
    finally:
        if inherited is not None:
            os.environ[_TRIM] = inherited


def _dask_config() -> Any:
    return import_optional("dask.config", extra="dask", purpose="Sharded sampling")


def _worker_environ() -> dict[str, Any]:
    """Dask's environment for new worker processes, without its malloc trim threshold.

    Dask sets glibc's ``MALLOC_TRIM_THRESHOLD_`` so that workers hand freed memory
    back; setting it also turns off glibc's adaptive mmap threshold, so the
    tensors a shard allocates keep coming from fresh pages. Drawing 50,000 Adult
    rows from the autoregressive model in a worker thread took 739k page faults
    and 3.1 s of CPU with it, 144k and 1.5 s without. The thread limits (one
    BLAS/OpenMP thread per worker) stay.
    """
    environ = dict(_dask_config().get(_WORKER_ENVIRON, default={}) or {})
    environ.pop(_TRIM, None)
    return environ


def _model_file_bytes(data: bytes) -> bytes:
    """The model file's bytes, as a task result workers fetch (and the scheduler redoes)."""
    return data


def _attempts(client: Any, futures: Mapping[Any, int]) -> dict[int, int]:
    """How many times the scheduler started each shard (a retry or a dead worker adds one)."""
    keys = {future.key: index for future, index in futures.items()}
    try:
        story = client.story(*keys)
    except Exception:  # the count is a report, never a reason to fail the run
        return {}
    attempts = dict.fromkeys(keys.values(), 0)
    # Scheduler entries are ("scheduler", key, from state, to state, ...).
    for entry in story:
        if entry[0] == "scheduler" and entry[1] in keys and entry[3] == "processing":
            attempts[keys[entry[1]]] += 1
    return attempts


def write_shard(
    data: bytes,
    spec: Mapping[str, Any],
    path: str,
    index: int,
    count: int,
    n_shards: int = 1,
) -> dict[str, dict[str, Any]]:
    """Draw shard ``index`` on a worker and write its parts atomically.

    Args:
        data: The model file's bytes, checked against ``spec["model"]["sha256"]``.
        spec: The run: model hash, ``random_state``, sizes, conditions.
        path: The output directory (local path or fsspec URL).
        index: The shard number.
        count: Rows (table models) or entities (sequence models) in this shard.
        n_shards: Shards in the run (sets the width of the shard code in string keys).

    Returns:
        Per table (``""`` for a table model's rows at the root, else ``"events"``
        and ``"context"``): the part's ``sha256``, ``bytes`` and ``rows``.

    Raises:
        ModelFileError: If ``data`` does not have the expected hash.

    Example:
        >>> write_shard(b"tampered", {"model": {"sha256": "0" * 64}}, "out", 0, 10)
        Traceback (most recent call last):
        ...
        synthkit.errors.ModelFileError: The model bytes have SHA-256 ...
    """
    model = _worker_model(data, spec["model"]["sha256"])
    seed = shard_seed(spec["random_state"], index)
    with _SAMPLE_LOCK:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the same arithmetic whatever the worker's cores
        try:
            drawn = model.sample(count, conditions=spec["conditions"], random_state=seed)
        finally:
            torch.set_num_threads(threads)
    if "n_entities" in spec:
        frames = _sequence_frames(model, drawn, spec, index, count, n_shards, seed)
    else:
        frames = {"": drawn}
    fs, root = fsspec.core.url_to_fs(path)
    written = {}
    for table, frame in frames.items():
        payload = _parquet_bytes(frame, _fingerprint(spec, index, table))
        _atomic_put(fs, f"{root.rstrip('/')}/{_part_path(table, index)}", payload)
        written[table] = {
            "sha256": hashlib.sha256(payload).hexdigest(),
            "bytes": len(payload),
            "rows": len(frame),
        }
    return written


def _sequence_frames(
    model: Any,
    drawn: Any,
    spec: Mapping[str, Any],
    index: int,
    count: int,
    n_shards: int,
    seed: int,
) -> dict[str, pd.DataFrame]:
    """The shard's events (and context) with keys from the shard's own key segment."""
    layout = model.layout_
    key = layout["sequence_key"]
    events, context = drawn.data, drawn.context
    new = shard_keys(
        layout["key_entry"],
        layout["key_dtype"],
        count,
        index=index,
        n_shards=n_shards,
        shard_entities=spec["shard_entities"],
        seed=seed,
    )
    # The model's own keys are unique within the shard: map them, in order, to the new ones.
    old = pd.Index(context[key] if context is not None else pd.unique(events[key]))
    events = events.assign(**{key: new[old.get_indexer(events[key])]})
    frames = {"events": events.reset_index(drop=True)}
    if context is not None:
        frames["context"] = context.assign(**{key: new[: len(context)]}).reset_index(drop=True)
    return frames


def _parquet_bytes(frame: pd.DataFrame, fingerprint: bytes) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[_FINGERPRINT_KEY] = fingerprint
    metadata[_ROWS_KEY] = str(len(frame)).encode("ascii")
    table = table.replace_schema_metadata(metadata)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **_PARQUET_OPTIONS)
    return buffer.getvalue()


def _worker_model(data: bytes, sha256: str) -> Any:
    """The model for these bytes, loaded once per worker process and hash."""
    model = _MODEL_CACHE.get(sha256)
    if model is None:
        model = load_model_bytes(data, sha256=sha256)
        _MODEL_CACHE.clear()
        _MODEL_CACHE[sha256] = model
    elif hashlib.sha256(data).hexdigest() != sha256:
        load_model_bytes(data, sha256=sha256)  # raises, naming the mismatch
    return model


def _atomic_put(fs: Any, target: str, payload: bytes) -> None:
    """Write ``payload`` under a temporary name beside ``target``, then rename it."""
    directory, name = target.rsplit("/", 1)
    fs.makedirs(directory, exist_ok=True)
    tmp = f"{directory}/.{name}.{uuid.uuid4().hex}.tmp"
    try:
        fs.pipe_file(tmp, payload)
        fs.mv(tmp, target)
    except BaseException:
        if fs.exists(tmp):
            fs.rm(tmp)
        raise


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in _VERSIONED:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return versions
