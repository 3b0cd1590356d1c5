"""Sharded sampling on a Dask cluster: deterministic Parquet parts, a manifest, resume.

``model.sample_to(path, n, shard_rows=...)`` splits ``n`` rows into shards of
``shard_rows`` rows. Shard ``i`` is drawn with a seed derived from
``(random_state, i)`` by numpy's ``SeedSequence`` spawning, and each part is written
with fixed Parquet options, so the bytes depend only on the model file,
``random_state``, ``n``, ``shard_rows`` and the conditions: never on how many
workers run or in what order.

The model reaches workers once, as its model file's bytes (scattered to every
worker), never as a pickle of the Python object; each worker checks the bytes'
SHA-256 hash and rebuilds the model with the safe model-file loader.

Each part is written to a temporary name and renamed; its Parquet footer records
the run's fingerprint, so a rerun keeps the parts of the same run and draws only
the missing ones. ``_manifest.json`` is written last.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import re
import threading
import uuid
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from synthkit._registry import import_optional
from synthkit.errors import ParameterError, ShardedOutputError
from synthkit.generators.persistence import load_model_bytes, model_bytes

__all__ = ["MANIFEST_NAME", "sample_to", "shard_seed"]

MANIFEST_NAME = "_manifest.json"
_FORMAT = "synthkit.sharded/1"
_PART = re.compile(r"^part-(\d{6,})\.parquet$")
_FINGERPRINT_KEY = b"synthkit.shard"
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
    n: int,
    *,
    shard_rows: int = 1_000_000,
    random_state: int = 0,
    conditions: Mapping[str, Any] | None = None,
    client: Any = None,
    workers: int | None = None,
    retries: int = 2,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Sample ``n`` rows on a Dask cluster into a directory of Parquet parts.

    See :meth:`synthkit.generators.base.BaseSynthesizer.sample_to`, which calls this.

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
    _check_model(model)
    n, shard_rows, random_state = _check_sizes(n, shard_rows, random_state)
    if client is not None and workers is not None:
        raise ParameterError(
            "Pass either client= (a running cluster) or workers= (a LocalCluster of that "
            "size), not both."
        )
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ParameterError(f"workers={workers!r} must be a positive integer or None.")
    data = model_bytes(model)
    spec = {
        "format": _FORMAT,
        "model": {"name": model.name, "sha256": hashlib.sha256(data).hexdigest()},
        "random_state": random_state,
        "n": n,
        "shard_rows": shard_rows,
        "conditions": _jsonable_conditions(conditions),
    }
    fs, root = fsspec.core.url_to_fs(str(path))
    root = root.rstrip("/")
    counts = [min(shard_rows, n - start) for start in range(0, n, shard_rows)]
    done = _existing_parts(fs, root, spec, counts, overwrite)
    todo = [i for i in range(len(counts)) if i not in done]
    if todo:
        written = _run_shards(data, spec, str(path), counts, todo, client, workers, retries)
        done.update(written)
    manifest = {
        **spec,
        "seeding": "numpy.random.SeedSequence(random_state, spawn_key=(index,)): "
        "generate_state(1, uint64) >> 1",
        "parquet": _PARQUET_OPTIONS,
        "parts": [
            {
                "file": _part_name(i),
                "index": i,
                "rows": counts[i],
                "seed_entropy": random_state,
                "spawn_key": [i],
                "seed": shard_seed(random_state, i),
                "sha256": done[i]["sha256"],
                "bytes": done[i]["bytes"],
            }
            for i in range(len(counts))
        ],
        "versions": _versions(),
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    _atomic_put(fs, f"{root}/{MANIFEST_NAME}", text.encode("utf-8"))
    return manifest


def _check_model(model: Any) -> None:
    from synthkit.generators.base import Synthesizer

    if getattr(model, "data_shape", None) == "sequences" or not isinstance(model, Synthesizer):
        raise ShardedOutputError(
            f"sample_to does not support {type(model).__name__} yet: sharded sampling works "
            "for table models (Synthesizer). Sample sequence models with model.sample(...)."
        )
    model._check_fitted()


def _check_sizes(n: Any, shard_rows: Any, random_state: Any) -> tuple[int, int, int]:
    for name, value in (("n", n), ("shard_rows", shard_rows)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ParameterError(f"{name}={value!r} must be a positive integer.")
    if (
        isinstance(random_state, bool)
        or not isinstance(random_state, (int, np.integer))
        or random_state < 0
    ):
        raise ParameterError(
            f"random_state={random_state!r} must be an int >= 0: sharded output is "
            "reproducible and resumable only with a fixed seed."
        )
    return int(n), int(shard_rows), int(random_state)


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


def _fingerprint(spec: Mapping[str, Any], index: int) -> bytes:
    return json.dumps({**spec, "index": index}, sort_keys=True).encode("utf-8")


def _existing_parts(
    fs: Any, root: str, spec: Mapping[str, Any], counts: list[int], overwrite: bool
) -> dict[int, dict[str, Any]]:
    """Parts of this same run already written (index -> sha256, bytes); refuse others.

    A part is kept when its footer carries this run's fingerprint, it has its
    shard's row count and, where a manifest lists it, the listed hash.
    """
    if not fs.exists(root):
        return {}
    names = [entry.rstrip("/").rsplit("/", 1)[-1] for entry in fs.ls(root, detail=False)]
    # A worker killed mid-write leaves only a temporary file: never a part.
    for name in names:
        if name.startswith(".part-") and name.endswith(".tmp"):
            fs.rm(f"{root}/{name}")
    parts = sorted(name for name in names if _PART.match(name))
    problem = None
    listed: dict[str, str] = {}
    if MANIFEST_NAME in names:
        old = json.loads(fs.cat_file(f"{root}/{MANIFEST_NAME}"))
        differs = [key for key in spec if old.get(key) != spec[key]]
        if differs:
            problem = f"its {MANIFEST_NAME} is for a different run (differs in {differs})"
        listed = {part["file"]: part["sha256"] for part in old.get("parts", [])}
    found: dict[int, dict[str, Any]] = {}
    for name in parts if problem is None else []:
        index = int(_PART.match(name).group(1))
        data = fs.cat_file(f"{root}/{name}")
        try:
            footer = pq.ParquetFile(io.BytesIO(data)).metadata
        except (pa.ArrowInvalid, OSError):
            continue  # damaged: drawn again
        fingerprint = (footer.metadata or {}).get(_FINGERPRINT_KEY)
        if index >= len(counts) or fingerprint != _fingerprint(spec, index):
            problem = f"{name} was written by a different run"
            break
        digest = hashlib.sha256(data).hexdigest()
        if footer.num_rows != counts[index] or listed.get(name, digest) != digest:
            continue  # changed since it was written: drawn again
        found[index] = {"sha256": digest, "bytes": len(data)}
    if problem is None:
        return found
    if not overwrite:
        raise ShardedOutputError(
            f"{root} already holds sharded output: {problem}. Write to another directory, "
            "or pass overwrite=True (--overwrite) to replace it."
        )
    for name in parts + ([MANIFEST_NAME] if MANIFEST_NAME in names else []):
        fs.rm(f"{root}/{name}")
    return {}


def _run_shards(
    data: bytes,
    spec: dict[str, Any],
    path: str,
    counts: list[int],
    todo: list[int],
    client: Any,
    workers: int | None,
    retries: int,
) -> dict[int, dict[str, Any]]:
    distributed = import_optional(
        "dask.distributed", extra="dask", purpose="Sharded sampling (model.sample_to)"
    )
    cluster = None
    if client is None:
        try:
            cluster = distributed.LocalCluster(
                n_workers=workers or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
            )
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
        # Once per worker, as bytes: workers rebuild the model with the safe loader.
        model_future = client.scatter(data, broadcast=True, hash=False)
        futures = {
            client.submit(
                write_shard,
                model_future,
                spec,
                path,
                index,
                counts[index],
                key=f"synthkit-shard-{spec['model']['sha256'][:16]}-{index}-{uuid.uuid4().hex}",
                retries=retries,
                pure=False,
            ): index
            for index in todo
        }
        written: dict[int, dict[str, Any]] = {}
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
        return written
    finally:
        if cluster is not None:
            client.close()
            cluster.close()


def write_shard(
    data: bytes, spec: Mapping[str, Any], path: str, index: int, rows: int
) -> dict[str, Any]:
    """Draw shard ``index`` on a worker and write its part atomically.

    Args:
        data: The model file's bytes, checked against ``spec["model"]["sha256"]``.
        spec: The run: model hash, ``random_state``, ``n``, ``shard_rows``, conditions.
        path: The output directory (local path or fsspec URL).
        index: The shard number.
        rows: Rows in this shard.

    Returns:
        The part's ``sha256`` and ``bytes``.

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
            frame = model.sample(rows, conditions=spec["conditions"], random_state=seed)
        finally:
            torch.set_num_threads(threads)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[_FINGERPRINT_KEY] = _fingerprint(spec, index)
    table = table.replace_schema_metadata(metadata)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **_PARQUET_OPTIONS)
    payload = buffer.getvalue()
    fs, root = fsspec.core.url_to_fs(path)
    _atomic_put(fs, f"{root.rstrip('/')}/{_part_name(index)}", payload)
    return {"sha256": hashlib.sha256(payload).hexdigest(), "bytes": len(payload)}


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
