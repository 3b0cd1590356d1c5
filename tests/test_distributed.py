"""Data-parallel fitting in a ``torch.distributed`` group: CPU, the gloo backend, 2 processes.

Starting processes costs seconds, so one group runs every in-group check and writes
what each process saw; the tests read those reports. A one-process fit at the same
global batch is the reference: TVAE and the flow draw everything at the global
batch's size, so their loss curves match it to rounding (relative 1e-3 stated
below; measured about 1e-6 for TVAE and 4e-5 for the flow over 3 epochs). CTGAN's
batch norm uses each process's own rows, so its curve is not step-for-step equal;
it is checked for identical weights across processes instead.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import distributed

import synthkit
from synthkit.datasets import load_adult
from synthkit.errors import DataError, ParameterError
from synthkit.generators.ctgan import _Discriminator
from synthkit.generators.distributed import fit_distributed, group_mean, rank_block

WORLD = 2
#: Relative tolerance between the group's loss curve and one process's (rounding only).
CURVE_RTOL = 1e-3

#: Small networks: every model trains 3 epochs of global batches of 100 rows.
PARAMS: dict[str, dict[str, Any]] = {
    "tvae": {"embedding_dim": 16, "compress_dims": (32,), "decompress_dims": (32, 32)},
    "flow": {"transforms": 2, "hidden_features": (32,)},
    "ctgan": {"embedding_dim": 16, "generator_dim": (32,), "discriminator_dim": (32,), "pac": 10},
    "autoregressive": {"hidden_dim": 32, "n_bins": 16},
}


def _params(name: str, **overrides: Any) -> dict[str, Any]:
    return {
        **PARAMS[name],
        "epochs": 3,
        "batch_size": 100,
        "device": "cpu",
        "random_state": 0,
        "verbose": False,
        "rare_category_threshold": 0,
        **overrides,
    }


def _real(rows: int = 401) -> pd.DataFrame:
    # 401 rows: the last batch of each epoch (1 row) does not split evenly.
    return load_adult().head(rows)


def _free_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{sock.getsockname()[1]}"


def _weights(model: Any) -> torch.Tensor:
    tensors = [t for m in model._modules().values() for t in m.state_dict().values()]
    return torch.cat([t.detach().flatten().double() for t in tensors])


def _refusal(fit: Any) -> str | None:
    try:
        fit()
    except (DataError, ParameterError) as error:
        return f"{type(error).__name__}: {error}"
    return None


def _gradient_penalty_check(rank: int) -> float:
    """Largest gap between DDP's critic gradients and the hand-averaged per-process ones."""
    torch.manual_seed(0)
    critic = _Discriminator(6, (8,), pac=2).eval()  # eval: no dropout, a fixed function
    real, fake = torch.randn(8, 6), torch.randn(8, 6)
    block = rank_block(8, multiple=2)
    real, fake = real[block], fake[block]

    def loss(module: torch.nn.Module) -> torch.Tensor:
        torch.manual_seed(1)  # the same mixing weights for both computations
        score = module(fake).mean() - module(real).mean()
        return score + critic.gradient_penalty(real, fake, critic=module)

    loss(critic).backward()
    by_hand = [p.grad.clone() for p in critic.parameters()]
    for grad in by_hand:
        distributed.all_reduce(grad)
        grad /= WORLD
    critic.zero_grad(set_to_none=True)
    wrapped = torch.nn.parallel.DistributedDataParallel(critic)  # alive until backward ends
    loss(wrapped).backward()
    return max(
        float((p.grad - g).abs().max()) for p, g in zip(critic.parameters(), by_hand, strict=True)
    )


def _group_worker(rank: int, address: str, out: str) -> None:
    """One process of the test group: fit every model as a torchrun script would."""
    torch.set_num_threads(1)
    distributed.init_process_group("gloo", init_method=address, rank=rank, world_size=WORLD)
    report: dict[str, Any] = {}
    try:
        real = _real()
        for name in PARAMS:
            model = synthkit.Synthesizer(name, **_params(name)).fit(real)
            weights = _weights(model)
            gathered = [torch.empty_like(weights) for _ in range(WORLD)]
            distributed.all_gather(gathered, weights)
            encoders = [None] * WORLD
            distributed.all_gather_object(encoders, json.dumps(model._encoder_states()))
            history = model.loss_history_.drop(columns="epoch")
            report[name] = {
                "same_weights": all(torch.equal(g, gathered[0]) for g in gathered),
                "same_encoders": len(set(encoders)) == 1,
                "group_curve": {c: [group_mean(float(v)) for v in history[c]] for c in history},
                "samples": len(model.sample(5)),
            }
        report["penalty_gap"] = _gradient_penalty_check(rank)
        report["no_seed"] = _refusal(
            lambda: synthkit.Synthesizer("tvae", **_params("tvae", random_state=None)).fit(real)
        )
        report["other_data"] = _refusal(
            lambda: synthkit.Synthesizer("flow", **_params("flow")).fit(real.head(300 + rank))
        )
        report["uneven_pac"] = _refusal(
            lambda: synthkit.Synthesizer("ctgan", **_params("ctgan", batch_size=110)).fit(real)
        )
    finally:
        distributed.destroy_process_group()
    Path(out, f"rank-{rank}.json").write_text(json.dumps(report))


@pytest.fixture(scope="module")
def group_reports(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("group")
    # The processes import this module by name: the repository root must be on their path.
    root = str(Path(__file__).resolve().parents[1])
    sys.path.insert(0, root)
    try:
        torch.multiprocessing.spawn(
            _group_worker, args=(_free_address(), str(out)), nprocs=WORLD, join=True
        )
    finally:
        sys.path.remove(root)
    return [json.loads((out / f"rank-{r}.json").read_text()) for r in range(WORLD)]


def _one_process_curve(name: str) -> pd.DataFrame:
    # One torch thread, as conftest sets for every test and the group's processes use.
    model = synthkit.Synthesizer(name, **_params(name)).fit(_real())
    return model.loss_history_.drop(columns="epoch")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tvae", "flow", "ctgan", "autoregressive"])
def test_every_process_ends_with_the_same_encoders_and_weights(group_reports, name):
    for report in group_reports:
        assert report[name]["same_encoders"]
        assert report[name]["same_weights"]
        assert report[name]["samples"] == 5


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tvae", "flow", "autoregressive"])
def test_group_loss_curve_matches_one_process_at_equal_global_batch(group_reports, name):
    reference = _one_process_curve(name)
    for column, values in group_reports[0][name]["group_curve"].items():
        np.testing.assert_allclose(values, reference[column], rtol=CURVE_RTOL)


@pytest.mark.slow
def test_ctgan_group_curve_is_finite_and_shared(group_reports):
    curves = [report["ctgan"]["group_curve"] for report in group_reports]
    assert curves[0] == curves[1]
    assert all(np.isfinite(v).all() for v in curves[0].values())


@pytest.mark.slow
def test_data_parallel_gradient_penalty_averages_the_double_backward(group_reports):
    for report in group_reports:
        assert report["penalty_gap"] < 1e-6


@pytest.mark.slow
def test_group_refuses_fits_that_would_not_train_one_model(group_reports):
    for report in group_reports:
        assert (
            report["no_seed"].startswith("ParameterError") and "random_state" in report["no_seed"]
        )
        assert report["other_data"].startswith("DataError") and "same data" in report["other_data"]
        assert report["uneven_pac"].startswith("ParameterError") and "20" in report["uneven_pac"]


@pytest.mark.slow
def test_fit_distributed_returns_a_model_that_samples_and_saves(tmp_path):
    fitted = fit_distributed(
        synthkit.Synthesizer("tvae", **_params("tvae")),
        _real(),
        nprocs=WORLD,
        threads_per_process=1,
    )
    reference = _one_process_curve("tvae")
    np.testing.assert_allclose(fitted.loss_history_["loss"], reference["loss"], rtol=CURVE_RTOL)
    assert fitted.n_rows_fitted_ == len(_real())
    path = fitted.save(tmp_path / "model.synthkit")
    again = synthkit.load_model(path)
    pd.testing.assert_frame_equal(
        fitted.sample(50, random_state=3), again.sample(50, random_state=3)
    )


@pytest.mark.slow
def test_fit_distributed_raises_the_error_a_process_raised():
    with pytest.raises(DataError, match=r"[Ee]mpty"):
        fit_distributed(synthkit.Synthesizer("tvae", **_params("tvae")), _real().iloc[:0])


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"nprocs": 0}, "nprocs"),
        ({"nprocs": "2"}, "nprocs"),
        ({"backend": "mpi"}, "gloo"),
    ],
)
def test_fit_distributed_refuses_bad_arguments_before_starting(overrides, match):
    model = synthkit.Synthesizer("tvae", **_params("tvae"))
    with pytest.raises(ParameterError, match=match):
        fit_distributed(model, _real(), **overrides)


def test_fit_distributed_needs_an_integer_seed():
    model = synthkit.Synthesizer("flow", **_params("flow", random_state=None))
    with pytest.raises(ParameterError, match="random_state"):
        fit_distributed(model, _real())
