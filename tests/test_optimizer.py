"""The models' optimizer: torch's AdamW steps and rate decay, without importing its compiler."""

from __future__ import annotations

import subprocess
import sys

import torch

from synthkit.generators.optimizer import DecayingAdamW, LinearDecay


def test_steps_and_rates_match_torchs_fused_adamw_and_linear_schedule() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.Linear(8, 2))
    copy = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.Linear(8, 2))
    copy.load_state_dict(model.state_dict())
    ours = DecayingAdamW(model.parameters(), lr=0.01, weight_decay=0.05)
    ours_decay = LinearDecay(ours, total=20)
    theirs = torch.optim.AdamW(copy.parameters(), lr=0.01, weight_decay=0.05, fused=True)
    theirs_decay = torch.optim.lr_scheduler.LambdaLR(
        theirs, lambda step: 1.0 - 0.9 * min(step / 20, 1.0)
    )
    inputs, targets = torch.randn(64, 4), torch.randint(0, 2, (64,))
    for step in range(30):
        for net, optimizer, decay in ((model, ours, ours_decay), (copy, theirs, theirs_decay)):
            optimizer.zero_grad(set_to_none=True)
            rows = slice(step % 4 * 16, step % 4 * 16 + 16)
            loss = torch.nn.functional.cross_entropy(net(inputs[rows]), targets[rows])
            loss.backward()
            optimizer.step()
            decay.step()
        assert ours.lr == theirs.param_groups[0]["lr"]
    for a, b in zip(model.parameters(), copy.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_parameter_without_a_gradient_is_left_as_it_is() -> None:
    used, unused = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    optimizer = DecayingAdamW([used, unused], lr=0.1, weight_decay=0.1)
    used.sum().backward()
    optimizer.step()
    assert torch.equal(unused, torch.ones(2)) and not torch.equal(used, torch.ones(2))


def test_a_fit_does_not_import_torchs_compiler() -> None:
    # torch.optim's optimizers import torch._dynamo at their first call: 1.4 s or more
    # of CPU per process, paid again in every worker a database fit forks.
    script = (
        "import sys, numpy as np, pandas as pd, synthkit\n"
        "rng = np.random.default_rng(0)\n"
        "frame = pd.DataFrame({'a': rng.normal(size=300), 'b': rng.choice(['x', 'y'], 300)})\n"
        "synthkit.Synthesizer('ar', epochs=1, verbose=False, device='cpu').fit(frame)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    assert result.stdout.strip().splitlines()[-1] == "False"
