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
from synthkit.generators.registry import GENERATORS

__all__ = ["FORMAT_VERSION", "load_model", "save_model"]

#: Version of the model file layout. Version 2 stores a tree of named components
#: (encoders, networks, submodels); version 1 files (one encoder) still load.
FORMAT_VERSION = 2
_READABLE = (1, 2)
_MANIFEST = "model.json"
_WEIGHTS = "weights.safetensors"


def save_model(model: Any, path: str | Path) -> Path:
    """Write a fitted model to ``path`` atomically and return the path.

    The file is a zip with ``model.json`` (format version, then per model its
    name, parameters, encoder states, fitted attributes, network names and
    submodels) and ``weights.safetensors`` (every network's tensors, named by
    their place in the tree: ``networks/<name>/<key>``,
    ``submodels/<name>/networks/<name>/<key>``). Nothing in it is executable when
    loaded.
    """
    from synthkit import __version__

    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    manifest = {
        "format_version": FORMAT_VERSION,
        "synthkit_version": __version__,
        **_entry(model, "", tensors),
    }
    with (
        atomic_path(path) as tmp,
        zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        archive.writestr(_MANIFEST, json.dumps(manifest))
        archive.writestr(_WEIGHTS, save_tensors(tensors))
    return path


def _entry(model: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """One model's manifest entry; its tensors go into ``tensors`` under ``prefix``."""
    state = model._get_state()
    for network, weights in state["networks"].items():
        for key, value in weights.items():
            tensors[f"{prefix}networks/{network}/{key}"] = value.detach().cpu().contiguous()
    return {
        "model": model.name,
        # Sequence models have a registry of their own; table models carry no shape.
        **({"shape": model.data_shape} if getattr(model, "data_shape", None) else {}),
        "params": {k: _jsonable(v) for k, v in model.get_params().items()},
        "state": {
            "encoders": state["encoders"],
            "fitted": state["fitted"],
            "networks": sorted(state["networks"]),
            "submodels": {
                name: _entry(sub, f"{prefix}submodels/{name}/", tensors)
                for name, sub in state["submodels"].items()
            },
        },
    }


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
    path = Path(path)
    resolve_device(device)  # an unavailable device is a parameter problem
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
    if version not in _READABLE:
        raise ModelFileError(
            f"{path} has model format version {version!r}; this synthkit reads version "
            f"{FORMAT_VERSION} (and older version 1). Re-save the model with a matching "
            "synthkit version."
        )
    try:
        if version == 1:
            manifest, tensors = _from_version_1(manifest, tensors)
        return _model(manifest, tensors, "", device)
    except (KeyError, TypeError, RuntimeError, ValueError, AttributeError) as error:
        raise ModelFileError(f"{path} does not match its model's layout ({error}).") from None


def _model(
    entry: dict[str, Any], tensors: dict[str, torch.Tensor], prefix: str, device: str
) -> Any:
    """Rebuild one model (and its submodels) from its manifest entry and tensors."""
    registry = GENERATORS
    if entry.get("shape") == "sequences":
        from synthkit.generators.sequential.registry import SEQUENCE_GENERATORS

        registry = SEQUENCE_GENERATORS
    cls = registry.get(entry["model"])
    params = {k: _from_json(v) for k, v in entry["params"].items()}
    model = cls(**{**params, "device": device})
    state = entry["state"]
    networks = {}
    for network in state["networks"]:
        start = f"{prefix}networks/{network}/"
        networks[network] = {k[len(start) :]: v for k, v in tensors.items() if k.startswith(start)}
    model._set_state(
        {
            "encoders": state["encoders"],
            "fitted": state.get("fitted", {}),
            "networks": networks,
            "submodels": {
                name: _model(sub, tensors, f"{prefix}submodels/{name}/", device)
                for name, sub in state.get("submodels", {}).items()
            },
        }
    )
    # Keep the saved device preference in the parameters, not the load target.
    model.set_params(device=params.get("device", device))
    return model


def _from_version_1(
    manifest: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """A version-1 manifest (one encoder, flat tensor names) as a version-2 entry."""
    networks = sorted({key.split(".", 1)[0] for key in tensors})
    renamed = {"networks/{}/{}".format(*key.split(".", 1)): value for key, value in tensors.items()}
    entry = {
        "model": manifest["model"],
        "params": manifest["params"],
        "state": {
            "encoders": {"table": manifest["encoder"]},
            "fitted": {
                "loss_history": manifest.get("loss_history", {}),
                "n_rows_fitted": manifest.get("n_rows_fitted"),
            },
            "networks": networks,
            "submodels": {},
        },
    }
    return entry, renamed


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
