"""Utility: train on synthetic, test on real (TSTR) against train on real, test on real (TRTR).

Models are fitted on the synthetic rows (TSTR) and on the real training rows
(TRTR) and scored on the holdout. Features follow MEASURING.md's Adult
protocol: all non-target columns one-hot encoded together with
``pandas.get_dummies(..., dummy_na=True)`` over the concatenation. The headline
scores use ``HistGradientBoosting(random_state=0)``; details hold the grid over
gradient boosting, logistic regression and a random forest.

For a binary target the positive class is the rarer one in the real data
(``">50K"`` on Adult, the fraud label on fraud data), unless ``positive`` is
given. Augmentation adds the synthetic rows of the positive class to the real
training rows and compares the gradient-boosting ROC AUC with real rows alone.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synthkit.evaluation.base import Metric, MetricResult
from synthkit.evaluation.data import EvaluationData
from synthkit.evaluation.tabular import one_hot_features, single_thread

__all__ = [
    "MODELS",
    "TRTRAUC",
    "TRTRF1",
    "TRTRPRAUC",
    "TRTRR2",
    "TRTRRMSE",
    "TSTRAUC",
    "TSTRF1",
    "TSTRPRAUC",
    "TSTRR2",
    "TSTRRMSE",
    "AugmentationAUC",
    "TRTRRecallAtPrecision",
    "TSTRRecallAtPrecision",
    "utility_grid",
]

#: Models of the utility grid; the first one gives the headline scores.
MODELS = ("hist_gradient_boosting", "logistic_regression", "random_forest")

#: Precision at which ``*_recall_at_precision`` reads the recall.
RECALL_PRECISION = 0.5


def _model(name: str, task: str, random_state: int) -> Any:
    from sklearn import ensemble, linear_model
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classification = task == "classification"
    if name == "hist_gradient_boosting":
        cls = (
            ensemble.HistGradientBoostingClassifier
            if classification
            else ensemble.HistGradientBoostingRegressor
        )
        return cls(random_state=random_state)
    if name == "logistic_regression":
        final = (
            linear_model.LogisticRegression(max_iter=1000)
            if classification
            else linear_model.Ridge(alpha=1.0)
        )
        return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), final)
    forest = ensemble.RandomForestClassifier if classification else ensemble.RandomForestRegressor
    return make_pipeline(
        SimpleImputer(strategy="median"),
        forest(n_estimators=100, min_samples_leaf=2, n_jobs=2, random_state=random_state),
    )


def _task(data: EvaluationData) -> str:
    return "regression" if data.target in data.numeric_columns else "classification"


def _labels(frame: pd.DataFrame, target: str) -> pd.Series:
    values = frame[target]
    return values.astype(object).map(str).where(values.notna())


def utility_grid(
    data: EvaluationData, positive: str | None = None, models: tuple[str, ...] = MODELS
) -> dict[str, Any]:
    """Fit every model on synthetic and on real rows once; return scores per model and regime.

    The first of ``models`` gives the headline scores.
    """
    models = tuple(models)
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        from synthkit.errors import ParameterError

        raise ParameterError(f"models={models!r}: choose one or more of {MODELS}.")

    def compute() -> dict[str, Any]:
        target, task = data.target, _task(data)
        frames = {"synthetic": data.synthetic, "real": data.real, "holdout": data.holdout}
        frames = {k: f[f[target].notna()] for k, f in frames.items()}
        features = dict(
            zip(frames, one_hot_features(list(frames.values()), drop=(target,)), strict=True)
        )
        info: dict[str, Any] = {"task": task, "target": target, "test_rows": len(frames["holdout"])}
        if task == "classification":
            labels = {k: _labels(f, target) for k, f in frames.items()}
            counts = labels["real"].value_counts()
            chosen = positive if positive is not None else str(counts.idxmin())
            if chosen not in counts.index:
                from synthkit.errors import ParameterError

                raise ParameterError(
                    f"positive={positive!r} is not a value of {target!r}: {list(counts.index)}."
                )
            info.update(positive=chosen if len(counts) == 2 else None, classes=list(counts.index))
        else:
            labels = {k: f[target].astype(float) for k, f in frames.items()}
        grid: dict[str, dict[str, dict[str, float]]] = {}
        for name in models:
            grid[name] = {}
            for regime, source in (("tstr", "synthetic"), ("trtr", "real")):
                grid[name][regime] = _fit_and_score(
                    name,
                    task,
                    features[source],
                    labels[source],
                    features["holdout"],
                    labels["holdout"],
                    info,
                    data.random_state,
                )
        if task == "classification":
            info["augmentation"] = _augmentation(features, labels, info, data.random_state)
        info["grid"] = grid
        return info

    return data.cached(f"utility {positive} {models}", compute)


def _fit_and_score(
    name: str,
    task: str,
    x: pd.DataFrame,
    y: pd.Series,
    x_test: pd.DataFrame,
    y_test: pd.Series,
    info: dict[str, Any],
    random_state: int,
) -> dict[str, float]:
    if task == "classification" and y.nunique() < 2:
        return {"error": f"the training rows hold one class only ({y.iloc[0]!r})"}
    model = _model(name, task, random_state)
    if name == "hist_gradient_boosting":
        with single_thread():
            model.fit(x, y)
    else:
        model.fit(x, y)
    if task == "regression":
        from sklearn.metrics import r2_score, root_mean_squared_error

        predicted = model.predict(x_test)
        return {
            "r2": float(r2_score(y_test, predicted)),
            "rmse": float(root_mean_squared_error(y_test, predicted)),
        }
    return _classification_scores(model, x_test, y_test, info)


def _classification_scores(
    model: Any, x_test: pd.DataFrame, y_test: pd.Series, info: dict[str, Any]
) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

    classes = list(model.classes_)
    probabilities = model.predict_proba(x_test)
    predicted = np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)]
    positive = info["positive"]
    if positive is not None:
        truth = (y_test == positive).to_numpy()
        score = (
            probabilities[:, classes.index(positive)]
            if positive in classes
            else np.zeros(len(y_test))
        )
        return {
            "roc_auc": float(roc_auc_score(truth, score)),
            "pr_auc": float(average_precision_score(truth, score)),
            "f1": float(f1_score(truth, predicted == positive, zero_division=0)),
            "recall_at_precision": _recall_at_precision(truth, score, RECALL_PRECISION),
        }
    # Multiclass: one-vs-rest macro averages over the classes of the real data.
    full = np.zeros((len(y_test), len(info["classes"])))
    for i, label in enumerate(info["classes"]):
        if label in classes:
            full[:, i] = probabilities[:, classes.index(label)]
    truth = np.column_stack([(y_test == c).to_numpy() for c in info["classes"]])
    present = truth.any(axis=0) & ~truth.all(axis=0)
    return {
        "roc_auc": float(roc_auc_score(truth[:, present], full[:, present], average="macro")),
        "pr_auc": float(
            average_precision_score(truth[:, present], full[:, present], average="macro")
        ),
        "f1": float(f1_score(y_test, predicted, average="macro", zero_division=0)),
    }


def _recall_at_precision(truth: np.ndarray, score: np.ndarray, precision: float) -> float:
    from sklearn.metrics import precision_recall_curve

    precisions, recalls, _ = precision_recall_curve(truth, score)
    reachable = recalls[precisions >= precision]
    return float(reachable.max()) if reachable.size else 0.0


def _augmentation(
    features: dict[str, pd.DataFrame],
    labels: dict[str, pd.Series],
    info: dict[str, Any],
    random_state: int,
) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    minority = info["positive"] if info["positive"] is not None else info["classes"][-1]
    extra = labels["synthetic"] == minority
    x = pd.concat([features["real"], features["synthetic"][extra.to_numpy()]])
    y = pd.concat([labels["real"], labels["synthetic"][extra]])
    model = _model("hist_gradient_boosting", "classification", random_state)
    with single_thread():
        model.fit(x, y)
    truth = (labels["holdout"] == minority).to_numpy()
    classes = list(model.classes_)
    score = model.predict_proba(features["holdout"])[:, classes.index(minority)]
    return {
        "class": minority,
        "synthetic_rows_added": int(extra.sum()),
        "roc_auc": float(roc_auc_score(truth, score)),
    }


class _Utility(Metric):
    category = "utility"
    requires = ("holdout", "target")
    regime: ClassVar[str] = "tstr"
    key: ClassVar[str] = "roc_auc"
    task: ClassVar[str] = "classification"
    params: ClassVar[dict[str, Any]] = {"positive": None, "models": MODELS}

    def not_applicable(self, data: EvaluationData) -> str | None:
        """Also skip metrics of the other task (classification vs regression)."""
        reason = super().not_applicable(data)
        if reason is None and _task(data) != self.task:
            reason = f"applies to {self.task} targets; {data.target!r} is a {_task(data)} target"
        if (
            reason is None
            and self.key == "recall_at_precision"
            and data.real[data.target].nunique() != 2
        ):
            reason = "applies to binary targets only"
        return reason

    def score(self, data: EvaluationData) -> MetricResult:
        """Read the headline model's score and attach the whole grid."""
        found = utility_grid(data, self.positive, self.models)
        headline_model = next(iter(found["grid"]))
        headline = found["grid"][headline_model][self.regime]
        details = {
            "model": headline_model,
            "task": found["task"],
            "target": found["target"],
            "positive": found.get("positive"),
            "test_rows": found["test_rows"],
            "grid": {
                m: {r: s.get(self.key, s.get("error")) for r, s in v.items()}
                for m, v in found["grid"].items()
            },
        }
        if "error" in headline:
            details["reason"] = headline["error"]
            return MetricResult(float("nan"), details=details)
        if self.key == "recall_at_precision":
            details["precision"] = RECALL_PRECISION
        return MetricResult(headline[self.key], details=details)


def _utility(
    name: str, regime: str, key: str, task: str, direction: str, text: str
) -> type[_Utility]:
    attributes = {
        "name": name,
        "regime": regime,
        "key": key,
        "task": task,
        "direction": "reference" if regime == "trtr" else direction,
        "explanation": text,
        "__doc__": text,
    }
    return type(name.upper(), (_Utility,), attributes)


_ON = "on the holdout"
_AT = f"at {RECALL_PRECISION:.0%} precision {_ON}"
# (name, key, task, direction, what the score is) for each TSTR metric; TRTR mirrors it.
_SCORES = (
    ("auc", "roc_auc", "classification", "higher", f"ROC AUC {_ON}"),
    ("pr_auc", "pr_auc", "classification", "higher", f"Precision-recall AUC {_ON}"),
    ("f1", "f1", "classification", "higher", f"F1 {_ON}"),
    ("recall_at_precision", "recall_at_precision", "classification", "higher", f"Recall {_AT}"),
    ("r2", "r2", "regression", "higher", f"R² {_ON}"),
    ("rmse", "rmse", "regression", "lower", f"RMSE {_ON}"),
)
_MADE = {
    f"{regime}_{suffix}": _utility(
        f"{regime}_{suffix}",
        regime,
        key,
        task,
        direction,
        f"{text} of a model trained on synthetic rows."
        if regime == "tstr"
        else f"Baseline: {text} of the same model trained on real rows.",
    )
    for suffix, key, task, direction, text in _SCORES
    for regime in ("tstr", "trtr")
}
TSTRAUC, TRTRAUC = _MADE["tstr_auc"], _MADE["trtr_auc"]
TSTRPRAUC, TRTRPRAUC = _MADE["tstr_pr_auc"], _MADE["trtr_pr_auc"]
TSTRF1, TRTRF1 = _MADE["tstr_f1"], _MADE["trtr_f1"]
TSTRRecallAtPrecision = _MADE["tstr_recall_at_precision"]
TRTRRecallAtPrecision = _MADE["trtr_recall_at_precision"]
TSTRR2, TRTRR2 = _MADE["tstr_r2"], _MADE["trtr_r2"]
TSTRRMSE, TRTRRMSE = _MADE["tstr_rmse"], _MADE["trtr_rmse"]


class AugmentationAUC(_Utility):
    """ROC AUC of gradient boosting trained on real rows plus synthetic positive-class rows."""

    name = "augmentation_auc"
    direction = "higher"
    explanation = "ROC AUC on the holdout when synthetic positive rows are added to the real rows."

    def score(self, data: EvaluationData) -> MetricResult:
        """Compare the augmented model with the real-only one."""
        found = utility_grid(data, self.positive, self.models)
        augmented = found["augmentation"]
        real_only = found["grid"][next(iter(found["grid"]))]["trtr"].get("roc_auc", float("nan"))
        return MetricResult(
            augmented["roc_auc"],
            details={
                **augmented,
                "real_only_roc_auc": real_only,
                "gain": augmented["roc_auc"] - real_only,
            },
        )
