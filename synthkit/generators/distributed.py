"""Data-parallel training across processes through ``torch.distributed``.

A model fitted inside an initialized process group trains as one model: each
process reads its slice of every global batch and the gradients are averaged
across processes by :class:`torch.nn.parallel.DistributedDataParallel`. Outside a
group (the usual case) these helpers change nothing.

Two ways in: start the processes yourself (``torchrun``; every process calls
``model.fit`` on the same data with the same ``random_state``), or let
:func:`fit_distributed` start them on this machine and hand back the fitted model.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import distributed

from synthkit._worker_errors import error_report, raise_reported
from synthkit.errors import DataError, ParameterError

__all__ = [
    "batch_share",
    "broadcast_buffers",
    "check_same_fit",
    "data_parallel",
    "fit_distributed",
    "global_batch_sizes",
    "group_mean",
    "process_group",
    "rank_block",
]


def process_group() -> tuple[int, int]:
    """This process's rank and the group's size; ``(0, 1)`` outside a process group.

    Example:
        >>> process_group()
        (0, 1)
    """
    if distributed.is_available() and distributed.is_initialized():
        return distributed.get_rank(), distributed.get_world_size()
    return 0, 1


def data_parallel(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` wrapped for data-parallel training inside a process group, else itself.

    Example:
        >>> layer = torch.nn.Linear(2, 1)
        >>> data_parallel(layer) is layer
        True
    """
    if process_group()[1] == 1:
        return module
    return torch.nn.parallel.DistributedDataParallel(module)


def broadcast_buffers(module: torch.nn.Module) -> None:
    """Give every process rank 0's buffers of ``module`` (batch-norm running statistics).

    DistributedDataParallel copies them from rank 0 before each forward pass, so
    after the last one the processes hold their own; this ends a fit as the next
    forward pass would. Outside a group it does nothing.

    Example:
        >>> broadcast_buffers(torch.nn.BatchNorm1d(3))
    """
    if process_group()[1] == 1:
        return
    for buffer in module.buffers():
        distributed.broadcast(buffer, src=0)


def global_batch_sizes(n_rows: int, batch_size: int) -> Iterator[int]:
    """The size of every global batch of an epoch of ``n_rows``, epoch after epoch.

    It follows the schedule of the models' shuffled batches (full batches, then
    the remainder), so a rank can size draws that must cover the whole batch.

    Example:
        >>> sizes = global_batch_sizes(5, 2)
        >>> [next(sizes) for _ in range(4)]
        [2, 2, 1, 2]
    """
    sizes = [min(batch_size, n_rows - start) for start in range(0, n_rows, batch_size)]
    while True:
        yield from sizes or [0]


def batch_share(global_rows: int) -> float:
    """Rows a process divides its summed loss by, so the group trains on the global mean.

    DistributedDataParallel averages gradients over processes; dividing each
    process's sum by ``global_rows / world`` makes that average the gradient of
    the global batch's mean loss even when the batch does not split evenly.
    Outside a group it is ``global_rows``.

    Example:
        >>> batch_share(500)
        500.0
    """
    return global_rows / process_group()[1]


def rank_block(n: int, multiple: int = 1) -> slice:
    """This process's contiguous block of a global batch of ``n`` rows.

    Blocks hold whole groups of ``multiple`` rows (a critic judging ``pac`` rows
    together must see them in one process); outside a group it is all ``n`` rows.

    Raises:
        ParameterError: If ``n`` rows do not split into equal blocks of whole groups.

    Example:
        >>> rank_block(500, multiple=10)
        slice(0, 500, None)
    """
    rank, world = process_group()
    if n % (multiple * world):
        raise ParameterError(
            f"A batch of {n} rows does not split into {world} equal parts of whole groups of "
            f"{multiple} rows; use a batch_size that is a multiple of {multiple * world}."
        )
    size = n // world
    return slice(rank * size, (rank + 1) * size)


def group_mean(value: float) -> float:
    """The mean of ``value`` over the process group (``value`` itself outside one).

    Early stopping reads it so that every process stops at the same epoch.

    Example:
        >>> group_mean(0.5)
        0.5
    """
    world = process_group()[1]
    if world == 1:
        return value
    total = torch.tensor([value], dtype=torch.float64, device=_collective_device())
    distributed.all_reduce(total)
    return float(total) / world


def check_same_fit(encoded: torch.Tensor, random_state: Any) -> None:
    """Refuse a fit in a process group whose processes would not train one model.

    Every process must draw the same batches (the same seed) from the same rows;
    a process with other data or another seed would silently train on a mixture.
    Outside a group it checks nothing.

    Raises:
        ParameterError: If ``random_state`` is None in a group.
        DataError: If the processes' encoded training tables differ.

    Example:
        >>> check_same_fit(torch.zeros(3, 2), random_state=None)  # no group: fine
    """
    world = process_group()[1]
    if world == 1:
        return
    if random_state is None or not isinstance(random_state, int):
        raise ParameterError(
            f"random_state={random_state!r}: every process of a group must draw the same "
            "batches, so pass the same integer random_state to the model in every process."
        )
    values = encoded.detach().to(torch.float64)
    weights = torch.arange(1, values.shape[0] + 1, dtype=torch.float64, device=values.device)
    fingerprint = torch.stack(
        [
            torch.tensor(float(values.shape[0]), dtype=torch.float64, device=values.device),
            torch.tensor(float(values.shape[1]), dtype=torch.float64, device=values.device),
            values.sum(),
            (values.sum(dim=1) * weights).sum(),
        ]
    ).to(_collective_device())
    gathered = [torch.empty_like(fingerprint) for _ in range(world)]
    distributed.all_gather(gathered, fingerprint)
    if any(not torch.equal(other, gathered[0]) for other in gathered[1:]):
        raise DataError(
            "The processes of the group encoded different training tables: every process "
            "must call fit with the same data, metadata and model parameters."
        )


def _collective_device() -> torch.device:
    """Where tensors for collectives live: the current GPU under NCCL, else the CPU."""
    if distributed.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


# ----------------------------------------------------------------- launcher
def fit_distributed(
    model: Any,
    data: pd.DataFrame,
    metadata: Any = None,
    *,
    nprocs: int = 2,
    backend: str = "gloo",
    threads_per_process: int | None = None,
) -> Any:
    """Fit ``model`` on ``data`` with ``nprocs`` data-parallel processes on this machine.

    Each process gets a copy of ``data`` and of the model's parameters, joins a
    ``torch.distributed`` group and fits; the group trains one model on the
    global batch ``batch_size``. Process 0 sends the fitted model back as the
    bytes of its model file (JSON and safetensors, never a pickle of the model),
    and the loss history it carries is the group's mean.

    Args:
        model: An unfitted table model (its parameters are used; it is not changed).
            Its ``random_state`` must be an integer.
        data: The real table.
        metadata: Column kinds, as for ``fit``.
        nprocs: Processes to start.
        backend: ``"gloo"`` (CPU) or ``"nccl"`` (one GPU per process).
        threads_per_process: Torch threads in each process; default: this machine's
            cores divided by ``nprocs`` (more would make the processes compete).

    Returns:
        A new fitted model, loaded on the device the model's ``device`` names.

    Raises:
        ParameterError: For a bad ``nprocs``, ``backend`` or ``random_state``.
        SynthkitError: The error a process raised (bad data, for instance).

    Example:
        >>> import synthkit
        >>> from synthkit.datasets import load_adult
        >>> model = synthkit.Synthesizer("tvae", epochs=1, batch_size=100, device="cpu",
        ...                              random_state=0, verbose=False)
        >>> fitted = fit_distributed(model, load_adult().head(200), nprocs=2)
        >>> fitted.sample(3).shape
        (3, 15)
    """
    if not isinstance(nprocs, int) or isinstance(nprocs, bool) or nprocs < 1:
        raise ParameterError(f"nprocs={nprocs!r} must be a positive integer.")
    if backend not in ("gloo", "nccl"):
        raise ParameterError(f"backend={backend!r}: use 'gloo' (CPU) or 'nccl' (GPUs).")
    if backend == "nccl" and torch.cuda.device_count() < nprocs:
        raise ParameterError(
            f"backend='nccl' with nprocs={nprocs} needs {nprocs} GPUs; "
            f"{torch.cuda.device_count()} are visible. Use fewer processes or backend='gloo'."
        )
    if not isinstance(model.random_state, int) or isinstance(model.random_state, bool):
        raise ParameterError(
            f"random_state={model.random_state!r}: a data-parallel fit needs an integer "
            "random_state (every process draws the same batches)."
        )
    model._validate_params()
    if threads_per_process is None:
        threads_per_process = max(1, (os.cpu_count() or 1) // nprocs)
    meta = None if metadata is None else metadata.to_dict()
    with tempfile.TemporaryDirectory(prefix="synthkit-ddp-") as directory:
        job = {
            "cls": type(model),
            "params": model.get_params(),
            "metadata": meta,
            "backend": backend,
            "address": f"tcp://127.0.0.1:{_free_port()}",
            "directory": directory,
            "threads": threads_per_process,
        }
        try:
            torch.multiprocessing.spawn(_fit_worker, args=(nprocs, job, data), nprocs=nprocs)
        except Exception as failure:
            _raise_worker_error(Path(directory), failure)
        content = (Path(directory) / "model.synthkit").read_bytes()
    from synthkit.generators.persistence import load_model_bytes

    return load_model_bytes(content, device=model.device)


def _fit_worker(rank: int, world: int, job: dict[str, Any], data: pd.DataFrame) -> None:
    """One process of :func:`fit_distributed`: join the group, fit, rank 0 saves."""
    torch.set_num_threads(job["threads"])
    params = dict(job["params"])
    if job["backend"] == "nccl":
        torch.cuda.set_device(rank)
        params["device"] = f"cuda:{rank}"
    try:
        distributed.init_process_group(
            job["backend"], init_method=job["address"], rank=rank, world_size=world
        )
        try:
            from synthkit.metadata import Metadata

            meta = None if job["metadata"] is None else Metadata.from_dict(job["metadata"])
            model = job["cls"](**params).fit(data, meta)
            if rank == 0:
                from synthkit.generators.persistence import model_bytes

                model.set_params(device=job["params"]["device"])
                part = Path(job["directory"]) / "model.synthkit.part"
                part.write_bytes(model_bytes(model))
                part.replace(part.with_suffix(""))
            # Both processes finish before either leaves the group: rank 0 hosts the
            # group's store, and a rank still tearing down when it goes away aborts.
            distributed.barrier()
        finally:
            distributed.destroy_process_group()
    except BaseException as error:
        report = error_report(error)
        (Path(job["directory"]) / f"error-{rank}.json").write_text(json.dumps(report))
        raise


def _raise_worker_error(directory: Path, failure: Exception) -> None:
    """Raise the first error a worker reported, as its synthkit class where it has one."""
    for path in sorted(directory.glob("error-*.json")):
        where = f"Process {path.stem.split('-')[1]} of the data-parallel fit"
        raise_reported(json.loads(path.read_text()), where, failure)
    raise RuntimeError(f"The data-parallel fit failed: {failure}") from failure


def _free_port() -> int:
    """A TCP port on this machine that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
