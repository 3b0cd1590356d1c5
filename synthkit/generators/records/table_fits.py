"""A database's table models fitted side by side, each in a process of its own.

Every table's model learns from the real tables alone (a child's context is its
real parents' rows), so the fits do not wait on each other. On a CPU they run in
forked worker processes, at most ``n_jobs`` at a time, the largest first; each
worker trains on one torch thread (the models' steps are too small to gain from
more) and sends its model back as the bytes of its model file (JSON and
safetensors, never a pickle), so the model a worker fitted and the one this
process loads sample alike. On a GPU, with ``n_jobs=1``, or where processes
cannot be forked, the fits run here, one after another, on one CPU thread too:
the same seeds give the same models either way.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

import torch
from tqdm.auto import tqdm

from synthkit._worker_errors import error_report, raise_reported
from synthkit.generators.base import BaseSynthesizer
from synthkit.generators.persistence import load_model_bytes, model_bytes
from synthkit.generators.sequential.threads import one_cpu_thread

__all__ = ["FittedTable", "TableFit", "fit_tables", "worker_count"]


@dataclass
class TableFit:
    """One table's unfitted model and the arguments of its ``fit``.

    Attributes:
        name: The table.
        model: Its unfitted model.
        args: Positional arguments of ``model.fit``.
        kwargs: Keyword arguments of ``model.fit``.
        work: The fit's size in rows times passes, to start the largest first.
    """

    name: str
    model: BaseSynthesizer
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    work: float = 0.0


@dataclass
class FittedTable:
    """A fitted table model with the wall and CPU seconds its fit took."""

    model: BaseSynthesizer
    wall: float
    cpu: float


def worker_count(n_jobs: int, n_fits: int, device: torch.device) -> int:
    """Worker processes for ``n_fits`` fits: 1 means the fits run in this process.

    ``n_jobs=-1`` takes every core this process may use. Processes are only
    forked on Linux and on a CPU: a forked process cannot use a CUDA context
    its parent holds, and elsewhere forking is unsafe or missing.

    Example:
        >>> worker_count(4, 3, torch.device("cpu")) == (3 if sys.platform == "linux" else 1)
        True
        >>> worker_count(4, 3, torch.device("meta"))
        1
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    wanted = (cores or 1) if n_jobs == -1 else n_jobs
    if device.type != "cpu" or sys.platform != "linux":
        return 1
    return max(1, min(wanted, n_fits))


def fit_tables(
    fits: Sequence[TableFit], n_jobs: int, device: torch.device, verbose: bool = False
) -> dict[str, FittedTable]:
    """Fit every table's model, in worker processes where :func:`worker_count` allows.

    Args:
        fits: The tables' models and data.
        n_jobs: Most fits at a time (``-1``: one per core).
        device: Where the models train.
        verbose: Show one progress bar over the tables (workers show none).

    Returns:
        Each table's fitted model and fit seconds, by table.

    Raises:
        SynthkitError: The error a model's fit raised (bad data, a bad parameter),
            as its own class; the other workers are stopped.
        RuntimeError: A worker failed otherwise or ended without a model.

    Example:
        >>> import pandas as pd, synthkit
        >>> model = synthkit.Synthesizer("ar", epochs=1, verbose=False, random_state=0)
        >>> table = pd.DataFrame({"age": [30, 41, 52, 63] * 10})
        >>> fitted = fit_tables([TableFit("people", model, (table,))], 1, torch.device("cpu"))
        >>> fitted["people"].model.sample(2).shape
        (2, 1)
    """
    workers = worker_count(n_jobs, len(fits), device)
    with tqdm(total=len(fits), desc="Fitting tables", unit="table", disable=not verbose) as bar:
        if workers == 1:
            done = {}
            for fit in fits:
                done[fit.name] = _fit_here(fit, device)
                bar.update()
            return done
        return _fit_in_workers(fits, workers, bar)


def _fit_here(fit: TableFit, device: torch.device) -> FittedTable:
    started = (time.perf_counter(), time.process_time())
    with one_cpu_thread(device):
        model = fit.model.fit(*fit.args, **fit.kwargs)
    return FittedTable(model, time.perf_counter() - started[0], time.process_time() - started[1])


def _fit_in_workers(fits: Sequence[TableFit], workers: int, bar: tqdm) -> dict[str, FittedTable]:
    context = multiprocessing.get_context("fork")
    waiting = sorted(fits, key=lambda fit: -fit.work)
    running: dict[Connection, tuple[TableFit, Any]] = {}
    done: dict[str, FittedTable] = {}
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                fit = waiting.pop(0)
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(target=_worker, args=(fit, sender), daemon=True)
                process.start()
                sender.close()  # the worker holds the only sending end: EOF if it dies
                running[receiver] = (fit, process)
            for receiver in wait(list(running)):
                fit, process = running.pop(receiver)
                try:
                    done[fit.name] = _received(fit, receiver, process)
                finally:
                    receiver.close()
                    process.join()
                bar.update()
    finally:
        for receiver, (_, process) in running.items():
            process.terminate()
            process.join()
            receiver.close()
    return {fit.name: done[fit.name] for fit in fits}


def _worker(fit: TableFit, sender: Connection) -> None:
    """Fit one table in a forked process and send back its seconds and model file."""
    # One thread, as in this process (the same arithmetic), and no OpenMP pool
    # inherited half-made from the parent.
    torch.set_num_threads(1)
    try:
        fit.model.set_params(verbose=False)
        fitted = _fit_here(fit, torch.device("cpu"))
        content = model_bytes(fitted.model, compress=False)  # a pipe, not a disk
        sender.send_bytes(json.dumps({"wall": fitted.wall, "cpu": fitted.cpu}).encode())
        sender.send_bytes(content)
    except BaseException as error:  # reported to the parent, which raises it
        sender.send_bytes(json.dumps({"error": error_report(error)}).encode())
    finally:
        sender.close()


def _received(fit: TableFit, receiver: Connection, process: Any) -> FittedTable:
    where = f"The process fitting table {fit.name!r}"
    try:
        header = json.loads(receiver.recv_bytes())
        if "error" in header:
            raise_reported(header["error"], where)
        content = receiver.recv_bytes()
    except EOFError:
        process.join()
        raise RuntimeError(
            f"{where} ended without a model (exit code {process.exitcode}), for instance "
            "killed for memory; fit with n_jobs=1 to fit the tables in this process."
        ) from None
    model = load_model_bytes(content, device="cpu")
    model.set_params(device=fit.model.device, verbose=fit.model.verbose)
    return FittedTable(model, header["wall"], header["cpu"])
