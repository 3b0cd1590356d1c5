"""Model files: JSON for parameters and encoders, safetensors for weights; never pickle."""

from __future__ import annotations

import hashlib
import io
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

__all__ = ["FORMAT_VERSION", "load_model", "load_model_bytes", "model_bytes", "save_model"]

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
    path = Path(path)
    manifest, weights = _archive_members(model)
    with (
        atomic_path(path) as tmp,
        zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        archive.writestr(_MANIFEST, manifest)
        archive.writestr(_WEIGHTS, weights)
    return path


def model_bytes(model: Any, compress: bool = True) -> bytes:
    """The model file of a fitted model as bytes, the same for the same fitted state.

    ``compress=False`` stores the members as they are, for bytes handed straight
    to another process, where deflating them would only cost time.

    The zip entries carry a fixed timestamp, so the bytes (and their SHA-256
    hash) depend only on the model: workers that sample a shard check the hash of
    the bytes they received, and a resumed run recognises its model.

    Example:
        >>> import synthkit
        >>> from synthkit.datasets import load_adult
        >>> model = synthkit.Synthesizer("tvae", epochs=1, verbose=False).fit(
        ...     load_adult().head(300))
        >>> model_bytes(model) == model_bytes(load_model_bytes(model_bytes(model)))
        True
    """
    manifest, weights = _archive_members(model)
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in ((_MANIFEST, manifest), (_WEIGHTS, weights)):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def _archive_members(model: Any) -> tuple[str, bytes]:
    """The two members of a model file: ``model.json`` text and the safetensors bytes."""
    from synthkit import __version__

    tensors: dict[str, torch.Tensor] = {}
    manifest = {
        "format_version": FORMAT_VERSION,
        "synthkit_version": __version__,
        **_entry(model, "", tensors),
    }
    return json.dumps(manifest), save_tensors(tensors)


def _entry(model: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """One model's manifest entry; its tensors go into ``tensors`` under ``prefix``."""
    state = model._get_state()
    for network, weights in state["networks"].items():
        for key, value in weights.items():
            tensors[f"{prefix}networks/{network}/{key}"] = value.detach().cpu().contiguous()
    return {
        "model": model.name,
        # Sequence and record models have registries of their own; table models carry no shape.
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
    return _load_archive(path, str(path), device)


def load_model_bytes(data: bytes, device: str = "cpu", *, sha256: str | None = None) -> Any:
    """Load a model from the bytes of its model file, without writing a file.

    The same safe reader as :func:`load_model` (JSON and safetensors, nothing
    executable); sharded sampling sends these bytes to workers instead of a
    pickle of the model.

    Args:
        data: The bytes of a model file (``model_bytes(model)`` or a file's content).
        device: Where to put the model.
        sha256: If given, the hex SHA-256 the bytes must have; checked first.

    Returns:
        The fitted model.

    Raises:
        ModelFileError: If the bytes do not match ``sha256`` or are not a readable
            synthkit model file.

    Example:
        >>> load_model_bytes(b"not a model", sha256="0" * 64)
        Traceback (most recent call last):
        ...
        synthkit.errors.ModelFileError: The model bytes have SHA-256 708811ccb151...; expected 000000000000...: they were changed or damaged on the way. Send the model file's bytes unchanged.
    """  # noqa: E501
    resolve_device(device)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ModelFileError(
            f"load_model_bytes got {type(data).__name__}; pass the bytes of a model file."
        )
    data = bytes(data)
    if sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise ModelFileError(
                f"The model bytes have SHA-256 {actual[:12]}...; expected {sha256[:12]}...: "
                "they were changed or damaged on the way. Send the model file's bytes unchanged."
            )
    return _load_archive(io.BytesIO(data), "the model bytes", device)


def _load_archive(source: Path | io.BytesIO, path: str, device: str) -> Any:
    """Read and rebuild a model from a model file's zip (a path or an in-memory buffer)."""
    try:
        with zipfile.ZipFile(source) as archive:
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
    elif entry.get("shape") == "records":
        from synthkit.generators.records.registry import RECORD_GENERATORS

        registry = RECORD_GENERATORS
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
