"""The plan of one DP-SGD fit: its noise, how many steps the budget affords, what they spend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from synthkit.privacy.accounting import epsilon_of_rdp, noise_for_epsilon, rdp_of_step

__all__ = ["DPSGDPlan"]


@dataclass
class DPSGDPlan:
    """The noise, the steps and the spending of one DP fit.

    The preprocessing histograms (one Gaussian mechanism over the whole data) and
    the Poisson-sampled DP-SGD steps are composed by a Rényi-DP accountant; the
    plan runs the most steps whose total stays within ``epsilon``.

    Attributes:
        unit: What one protected record is: ``"row"`` for tables, ``"entity"`` for
            sequences (an entity with all its events).

    Example:
        >>> spent = {"delta": 1e-5, "delta_accounted": 9e-6,
        ...          "preprocessing_noise_multiplier": 20.0, "histograms": 3,
        ...          "delta_threshold": 1e-6}
        >>> plan = DPSGDPlan.make(2.0, spent, sample_rate=0.01, epochs=5,
        ...                       preprocessing_share=0.1, unit="entity")
        >>> plan.steps == 500 and plan.spent <= 2.0, plan.report()["unit"]
        (True, 'entity')
    """

    epsilon: float
    delta: float
    delta_accounted: float
    sample_rate: float
    steps_per_epoch: int
    steps: int
    planned: int
    noise_multiplier: float
    preprocessing: np.ndarray
    per_step: np.ndarray
    histograms: dict[str, Any]
    preprocessing_share: float
    unit: str = "row"
    marginals: np.ndarray | None = None
    marginals_noise_multiplier: float | None = None

    @classmethod
    def make(
        cls,
        epsilon: float,
        spent: dict[str, Any],
        *,
        sample_rate: float,
        epochs: int,
        noise_multiplier: float | None = None,
        preprocessing_share: float,
        unit: str = "row",
        marginals_noise_multiplier: float | None = None,
    ) -> DPSGDPlan:
        """Plan a fit of ``epochs`` passes at ``sample_rate`` after the preprocessing ``spent``.

        Args:
            epsilon: The budget of preprocessing and training together.
            spent: What the preprocessing histograms spent (from the encoder's privacy).
            sample_rate: Chance that one unit joins a step's batch.
            epochs: Planned passes (``1 / sample_rate`` steps each).
            noise_multiplier: Fixed noise; ``None`` calibrates it to spend ``epsilon``
                over the planned steps.
            preprocessing_share: Share of ``epsilon`` the histograms were given.
            unit: The privacy unit, for the report.
            marginals_noise_multiplier: Noise of a release of one-way token
                histograms (one Gaussian mechanism, in units of its L2 sensitivity)
                run before training, or None when there is none.
        """
        accounted = spent["delta_accounted"]
        per_epoch = max(round(1.0 / sample_rate), 1)
        planned = per_epoch * epochs
        before = [(spent["preprocessing_noise_multiplier"], 1.0, 1)]
        marginals = None
        if marginals_noise_multiplier is not None:
            before.append((marginals_noise_multiplier, 1.0, 1))
            marginals = rdp_of_step(marginals_noise_multiplier, 1.0)
        multiplier = noise_multiplier
        if multiplier is None:
            multiplier = noise_for_epsilon(epsilon, accounted, sample_rate, planned, before)
        preprocessing = rdp_of_step(spent["preprocessing_noise_multiplier"], 1.0)
        # Both releases run once before training: their cost is paid up front.
        upfront = preprocessing if marginals is None else preprocessing + marginals
        per_step = rdp_of_step(float(multiplier), sample_rate)
        # The most steps within budget (spending only grows with the steps).
        low, high = 0, planned
        while low < high:
            middle = (low + high + 1) // 2
            if epsilon_of_rdp(upfront + middle * per_step, accounted) <= epsilon:
                low = middle
            else:
                high = middle - 1
        return cls(
            epsilon=epsilon,
            delta=spent["delta"],
            delta_accounted=accounted,
            sample_rate=sample_rate,
            steps_per_epoch=per_epoch,
            steps=low,
            planned=planned,
            noise_multiplier=float(multiplier),
            preprocessing=preprocessing,
            per_step=per_step,
            histograms=spent,
            preprocessing_share=preprocessing_share,
            unit=unit,
            marginals=marginals,
            marginals_noise_multiplier=marginals_noise_multiplier,
        )

    @classmethod
    def for_model(
        cls,
        model: Any,
        epsilon: float,
        spent: dict[str, Any],
        n_units: int,
        *,
        unit: str,
        marginals_noise_multiplier: float | None = None,
    ) -> DPSGDPlan:
        """Plan a model's fit over ``n_units`` rows or entities from its parameters.

        Reads ``batch_size``, ``epochs``, ``noise_multiplier`` and
        ``preprocessing_share``; ``marginals_noise_multiplier`` is that of a
        one-way marginals release run before training, if any.
        """
        return cls.make(
            epsilon,
            spent,
            sample_rate=min(model.batch_size / n_units, 1.0),
            epochs=model.epochs,
            noise_multiplier=model.noise_multiplier,
            preprocessing_share=model.preprocessing_share,
            unit=unit,
            marginals_noise_multiplier=marginals_noise_multiplier,
        )

    def schedule(self) -> tuple[int, int]:
        """Epochs and steps per epoch that stay within the affordable steps."""
        if self.steps >= self.steps_per_epoch:
            return self.steps // self.steps_per_epoch, self.steps_per_epoch
        return (1, self.steps) if self.steps else (0, 0)

    @property
    def steps_run(self) -> int:
        """The steps the schedule runs (whole epochs of the affordable steps)."""
        epochs, per_epoch = self.schedule()
        return epochs * per_epoch

    @property
    def spent(self) -> float:
        """The epsilon preprocessing and the scheduled steps spend together."""
        total = self.preprocessing + self.steps_run * self.per_step
        if self.marginals is not None:
            total = total + self.marginals
        return epsilon_of_rdp(total, self.delta_accounted)

    def describe(self) -> str:
        """One line stating the guarantee being bought."""
        return (
            f"DP fit: epsilon={self.epsilon:g} at delta={self.delta:.3g} per {self.unit} "
            f"(default delta 1/n**1.1), {self.preprocessing_share:.0%} of it for the "
            f"preprocessing histograms; DP-SGD noise multiplier {self.noise_multiplier:.3f}, "
            f"sample rate {self.sample_rate:.4g}, {self.steps} steps."
        )

    def report(self) -> dict[str, Any]:
        """What was spent, on what, with which noise: saved with the model.

        ``epsilon_preprocessing`` (the column histograms), ``epsilon_marginals``
        (the one-way token histograms, when released) and ``epsilon_training``
        are each part's cost alone; they compose to ``epsilon_spent`` through
        the Rényi accountant, so they add up to more than it.
        """
        extra: dict[str, Any] = {}
        if self.marginals is not None:
            extra = {
                "epsilon_marginals": epsilon_of_rdp(self.marginals, self.delta_accounted),
                "marginals_noise_multiplier": self.marginals_noise_multiplier,
            }
        return {
            "unit": self.unit,
            "epsilon": self.epsilon,
            "epsilon_spent": self.spent,
            "delta": self.delta,
            "epsilon_preprocessing": epsilon_of_rdp(self.preprocessing, self.delta_accounted),
            "epsilon_training": epsilon_of_rdp(
                self.steps_run * self.per_step, self.delta_accounted
            ),
            "delta_category_threshold": self.histograms["delta_threshold"],
            "noise_multiplier": self.noise_multiplier,
            "preprocessing_noise_multiplier": self.histograms["preprocessing_noise_multiplier"],
            "histograms": self.histograms["histograms"],
            "sample_rate": self.sample_rate,
            "steps": self.steps_run,
            "steps_planned": self.planned,
            **extra,
        }
