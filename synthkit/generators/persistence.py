"""Model files: JSON for parameters and encoders, safetensors for weights; never pickle."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from synthkit._files import atomic_path
from synthkit._runtime import resolve_device
from synthkit.errors import ModelFileError

__all__ = ["FORMAT_VERSION", "load_model", "save_model"]

#: Version of the model file layout; files of another major version are refused.
FORMAT_VERSION = 1
_MANIFEST = "model.json"
_WEIGHTS = "weights.safetensors"


def save_model(model: Any, path: str | Path) -> Path:
    """Write a fitted model to ``path`` atomically and return the path.

    The file is a zip with ``model.json`` (format version, model name,
    parameters, encoder state, loss history) and ``weights.safetensors``.
    Nothing in it is executable when loaded.
    """
    from synthkit import __version__

    path = Path(path)
    params = {k: _jsonable(v) for k, v in model.get_params().items()}
    manifest = {
        "format_version": FORMAT_VERSION,
        "synthkit_version": __version__,
        "model": model.name,
        "params": params,
        "encoder": model.encoder_.to_state(),
        "loss_history": model.loss_history_.to_dict(orient="list"),
        "n_rows_fitted": model.n_rows_fitted_,
    }
    tensors = {
        f"{module_name}.{key}": value.detach().cpu().contiguous()
        for module_name, module in model._modules().items()
        for key, value in module.state_dict().items()
    }
    with (
        atomic_path(path) as tmp,
        zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        archive.writestr(_MANIFEST, json.dumps(manifest))
        archive.writestr(_WEIGHTS, save_tensors(tensors))
    return path


def load_model(path: str | Path, device: str = "cpu") -> Any:
    """Load a model saved with ``model.save(path)``.

    Loading reads JSON and safetensors only, so a model file from someone else
    cannot run code. A model fitted on a GPU loads and samples on a CPU.

    Args:
        path: The model file.
        device: Where to put the model (``"auto"``, ``"cpu"``, ``"cuda"``, ...).

    Returns:
        The fitted model.

    Raises:
        ModelFileError: If the file is missing, not a synthkit model file, damaged,
            or of an incompatible format version.

    Example:
        >>> import synthkit
        >>> synthkit.load_model("no/such/file.synthkit")
        Traceback (most recent call last):
        ...
        synthkit.errors.ModelFileError: Model file no/such/file.synthkit does not exist.
    """
    from synthkit.generators.base import GENERATORS

    path = Path(path)
    target = resolve_device(device)  # an unavailable device is a parameter problem
    if not path.is_file():
        raise ModelFileError(f"Model file {path} does not exist.")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if names != {_MANIFEST, _WEIGHTS}:
                raise ModelFileError(
                    f"{path} holds {sorted(names)}; a synthkit model file holds exactly "
                    f"{_MANIFEST} and {_WEIGHTS}. Refusing to load it."
                )
            manifest = json.loads(archive.read(_MANIFEST))
            weights = archive.read(_WEIGHTS)
    except ModelFileError:
        raise
    except (
        zipfile.BadZipFile,
        KeyError,
        UnicodeDecodeError,
        json.JSONDecodeError,
        OSError,
    ) as error:
        raise ModelFileError(
            f"{path} is not a readable synthkit model file ({error}); save models with "
            "model.save(path)."
        ) from None
    if not isinstance(manifest, dict):
        raise ModelFileError(f"{path}: {_MANIFEST} is not a JSON object; the file is damaged.")
    try:
        tensors = load_tensors(weights)
    except Exception as error:  # safetensors raises its own error types for bad bytes
        raise ModelFileError(f"The weights in {path} are damaged ({error}).") from None
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format version {version!r}; this synthkit reads version "
            f"{FORMAT_VERSION}. Re-save the model with a matching synthkit version."
        )
    try:
        cls = GENERATORS.get(manifest["model"])
        params = {k: _from_json(v) for k, v in manifest["params"].items()}
        model = cls(**{**params, "device": device})
        model.encoder_ = cls._encoder_from_state(manifest["encoder"])
        model.metadata_ = model.encoder_.metadata_
        model.device_ = target
        model.loss_history_ = _frame(manifest.get("loss_history", {}))
        model.n_rows_fitted_ = manifest.get("n_rows_fitted")
        model._build_modules()
        for module_name, module in model._modules().items():
            prefix = f"{module_name}."
            state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            module.load_state_dict(state, strict=True)
            module.to(model.device_)
    except (KeyError, TypeError, RuntimeError, ValueError) as error:
        raise ModelFileError(f"{path} does not match its model's layout ({error}).") from None
    # Keep the saved device preference in the parameters, not the load target.
    model.device = params.get("device", device)
    return model


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return {"__tuple__": [_jsonable(v) for v in value]}
    if isinstance(value, torch.device):
        return str(value)
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and "__tuple__" in value:
        return tuple(_from_json(v) for v in value["__tuple__"])
    return value


def _frame(data: dict[str, list[Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(data)
