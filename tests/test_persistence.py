"""Model files: identical samples after loading, a safe format with no pickle, clear errors."""

from __future__ import annotations

import functools
import io
import json
import os
import pickle
import re
import struct
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch

import synthkit
from synthkit.errors import ModelFileError, ParameterError
from synthkit.generators import GENERATORS, persistence

# Floats compare exactly (pandas' default is a relative 1e-5).
assert_frame_equal = functools.partial(pd.testing.assert_frame_equal, check_exact=True)


NAMES = GENERATORS.names()


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory) -> Path:
    """A fitted CTGAN saved once for the tests that only read or alter its file."""
    return fitted("ctgan").save(tmp_path_factory.mktemp("models") / "adult.synthkit")


def rewrite(source: Path, target: Path, **entries: bytes | None) -> Path:
    """Copy a model file, replacing (bytes), dropping (None) or adding entries."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for name in src.namelist():
            if name not in entries:
                dst.writestr(name, src.read(name))
        for name, data in entries.items():
            if data is not None:
                dst.writestr(name, data)
    return target


def manifest_of(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("model.json"))


class _RunsCode:
    """A pickle payload that would create a marker file if anything unpickled it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


# ------------------------------------------------------------------ round trip
@pytest.mark.parametrize("name", NAMES)
def test_loaded_model_samples_identically(name: str, fitted, tmp_path: Path) -> None:
    model = fitted(name)
    path = model.save(tmp_path / f"{name}.synthkit")
    assert path == tmp_path / f"{name}.synthkit"
    loaded = synthkit.load_model(path, device="cpu")
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    assert_frame_equal(loaded.loss_history_, model.loss_history_)
    assert_frame_equal(loaded.sample(2000, random_state=7), model.sample(2000, random_state=7))
    conditions = {"income": ">50K", "age": (25, 60)}
    assert_frame_equal(
        loaded.sample(300, conditions=conditions, random_state=8),
        model.sample(300, conditions=conditions, random_state=8),
    )


def write_version_1(model, path: Path) -> Path:
    """Write ``model`` the way format version 1 did: one encoder, flat tensor names."""
    from safetensors.torch import save as save_tensors

    manifest = {
        "format_version": 1,
        "synthkit_version": synthkit.__version__,
        "model": model.name,
        "params": {
            k: list(v) if isinstance(v, tuple) else v for k, v in model.get_params().items()
        },
        "encoder": model.encoder_.to_state(),
        "loss_history": model.loss_history_.to_dict(orient="list"),
        "n_rows_fitted": model.n_rows_fitted_,
    }
    tensors = {
        f"{network}.{key}": value.detach().cpu().contiguous()
        for network, module in model._modules().items()
        for key, value in module.state_dict().items()
    }
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model.json", json.dumps(manifest))
        archive.writestr("weights.safetensors", save_tensors(tensors))
    return path


@pytest.mark.parametrize("name", NAMES)
def test_version_1_files_still_load(name: str, fitted, tmp_path: Path) -> None:
    model = fitted(name)
    loaded = synthkit.load_model(write_version_1(model, tmp_path / "v1.synthkit"))
    assert type(loaded) is type(model)
    assert loaded.n_rows_fitted_ == model.n_rows_fitted_
    assert_frame_equal(loaded.loss_history_, model.loss_history_)
    assert_frame_equal(loaded.sample(500, random_state=3), model.sample(500, random_state=3))
    # Saving again writes the current version, which loads to the same model.
    again = synthkit.load_model(loaded.save(tmp_path / "v2.synthkit"))
    assert manifest_of(tmp_path / "v2.synthkit")["format_version"] == persistence.FORMAT_VERSION
    assert_frame_equal(again.sample(500, random_state=3), model.sample(500, random_state=3))


def test_model_state_is_a_tree_of_named_components(fitted) -> None:
    state = fitted("ctgan")._get_state()
    assert set(state) == {"encoders", "networks", "submodels", "fitted"}
    assert set(state["encoders"]) == {"table"}
    assert set(state["networks"]) == {"generator"}
    assert state["submodels"] == {}
    assert state["fitted"]["n_rows_fitted"] == fitted("ctgan").n_rows_fitted_


@pytest.mark.parametrize("name", NAMES)
def test_ids_and_pii_settings_survive_saving(name: str, make_model, adult, tmp_path) -> None:
    data = adult.head(500).assign(
        ticket=range(9000, 9500), email=[f"u{i}@x.org" for i in range(500)]
    )
    metadata = synthkit.Metadata.detect(data).update_column("email", strategy="drop")
    model = make_model(name, epochs=1).fit(data, metadata)
    loaded = synthkit.load_model(model.save(tmp_path / "m.synthkit"))
    assert loaded.metadata_ == model.metadata_
    assert_frame_equal(loaded.sample(50, random_state=1), model.sample(50, random_state=1))
    assert "email" not in loaded.sample(5).columns


# ---------------------------------------------------------------- safe format
def test_file_is_a_zip_of_json_and_safetensors_only(saved: Path) -> None:
    """model.json parses as JSON, weights.safetensors is an 8-byte header length, a JSON
    header and raw tensor bytes; neither entry is a pickle.

    Raw float bytes may contain b"\\x80\\x04" by chance, so the pickle scan covers the
    JSON parts; the tensor bytes are proven raw by the header's offsets covering them.
    """
    with zipfile.ZipFile(saved) as archive:
        assert sorted(archive.namelist()) == ["model.json", "weights.safetensors"]
        manifest_bytes = archive.read("model.json")
        weights = archive.read("weights.safetensors")
    manifest = json.loads(manifest_bytes)
    assert manifest["format_version"] == persistence.FORMAT_VERSION
    assert manifest["model"] == "ctgan"
    (header_size,) = struct.unpack("<Q", weights[:8])
    header_bytes = weights[8 : 8 + header_size]
    header = json.loads(header_bytes)
    ends = [entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"]
    assert 8 + header_size + max(ends) == len(weights)
    assert all(
        entry["dtype"] in {"F32", "F64", "I64"}
        for k, entry in header.items()
        if k != "__metadata__"
    )
    for part in (manifest_bytes, header_bytes):
        assert not part.startswith(b"\x80")
        assert b"\x80\x04" not in part and b"\x80\x05" not in part
        with pytest.raises(pickle.UnpicklingError):
            pickle.loads(part)


@pytest.mark.parametrize(("name", "kept"), [("ctgan", "generator"), ("tvae", "decoder")])
def test_files_keep_only_the_networks_sampling_needs(name, kept, fitted, tmp_path) -> None:
    # A GAN's critic and a VAE's encoder read real rows: a membership attack's best tools.
    path = fitted(name).save(tmp_path / f"{name}.synthkit")
    with zipfile.ZipFile(path) as archive:
        weights = archive.read("weights.safetensors")
    (header_size,) = struct.unpack("<Q", weights[:8])
    header = json.loads(weights[8 : 8 + header_size])
    # Tensors are named by their place in the model's tree: networks/<name>/<key>.
    networks = {key.split("/")[1] for key in header if key != "__metadata__"}
    assert networks == {kept}
    assert manifest_of(path)["state"]["networks"] == [kept]


@pytest.mark.parametrize("entry", ["weights.safetensors", "model.json"])
def test_a_pickle_in_place_of_an_entry_is_refused_unrun(saved: Path, tmp_path: Path, entry) -> None:
    marker = tmp_path / "code-ran"
    payload = pickle.dumps(_RunsCode(marker))
    crafted = rewrite(saved, tmp_path / "crafted.synthkit", **{entry: payload})
    with pytest.raises(ModelFileError, match=r"crafted\.synthkit"):
        synthkit.load_model(crafted)
    assert not marker.exists()


def test_torch_save_weights_are_refused(saved: Path, tmp_path: Path) -> None:
    """A torch.save archive (pickle inside) is not read, even with weights_only."""
    buffer = io.BytesIO()
    torch.save({"generator.seq.0.fc.weight": torch.zeros(1)}, buffer)
    crafted = rewrite(
        saved, tmp_path / "torch.synthkit", **{"weights.safetensors": buffer.getvalue()}
    )
    with pytest.raises(ModelFileError, match=r"torch\.synthkit"):
        synthkit.load_model(crafted)


def test_an_extra_pickle_entry_is_refused(saved: Path, tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    crafted = rewrite(
        saved, tmp_path / "extra.synthkit", **{"data.pkl": pickle.dumps(_RunsCode(marker))}
    )
    try:
        with pytest.raises(ModelFileError, match=r"data\.pkl"):
            synthkit.load_model(crafted)
    finally:
        assert not marker.exists()


# ---------------------------------------------------------------- bad files
def test_wrong_format_version(saved: Path, tmp_path: Path) -> None:
    manifest = manifest_of(saved)
    manifest["format_version"] = persistence.FORMAT_VERSION + 1
    crafted = rewrite(
        saved, tmp_path / "future.synthkit", **{"model.json": json.dumps(manifest).encode()}
    )
    with pytest.raises(ModelFileError) as caught:
        synthkit.load_model(crafted)
    message = str(caught.value)
    assert "future.synthkit" in message
    assert f"version {persistence.FORMAT_VERSION + 1}" in message
    assert f"reads version {persistence.FORMAT_VERSION}" in message
    assert "Re-save" in message


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_truncated_file(saved: Path, tmp_path: Path, keep: float) -> None:
    data = saved.read_bytes()
    damaged = tmp_path / "cut.synthkit"
    damaged.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelFileError, match=r"cut\.synthkit"):
        synthkit.load_model(damaged)


def test_damaged_weights(saved: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(saved) as archive:
        weights = archive.read("weights.safetensors")
    crafted = rewrite(
        saved, tmp_path / "bad.synthkit", **{"weights.safetensors": weights[: len(weights) // 2]}
    )
    with pytest.raises(ModelFileError, match=r"bad\.synthkit"):
        synthkit.load_model(crafted)


@pytest.mark.parametrize(
    ("change", "entry"),
    [
        (lambda m: m.update(model="no-such-model"), "unknown model"),
        (lambda m: m["state"].pop("encoders"), "no encoder"),
        (lambda m: m["state"]["encoders"].pop("table"), "no table encoder"),
        (lambda m: m["state"].update(networks=[]), "networks missing"),
        (lambda m: m["params"].update(embedding_dim=7), "weights of another shape"),
    ],
)
def test_manifest_that_does_not_match(saved: Path, tmp_path: Path, change, entry: str) -> None:
    manifest = manifest_of(saved)
    change(manifest)
    crafted = rewrite(
        saved, tmp_path / "odd.synthkit", **{"model.json": json.dumps(manifest).encode()}
    )
    with pytest.raises(ModelFileError, match=r"odd\.synthkit"):
        synthkit.load_model(crafted)


def test_manifest_that_is_not_an_object(saved: Path, tmp_path: Path) -> None:
    crafted = rewrite(saved, tmp_path / "list.synthkit", **{"model.json": b"[1, 2]"})
    with pytest.raises(ModelFileError, match=r"list\.synthkit"):
        synthkit.load_model(crafted)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="does not exist"):
        synthkit.load_model(tmp_path / "nothing.synthkit")
    with pytest.raises(ModelFileError, match=re.escape(str(tmp_path))):
        synthkit.load_model(tmp_path)


def test_not_a_model_file(tmp_path: Path) -> None:
    plain = tmp_path / "notes.synthkit"
    plain.write_text("hello")
    with pytest.raises(ModelFileError, match="not a readable synthkit model file"):
        synthkit.load_model(plain)


def test_unavailable_device_at_load_is_a_parameter_error(saved: Path) -> None:
    with pytest.raises(ParameterError, match="cuda"):
        synthkit.load_model(saved, device="cuda")


# ------------------------------------------------------------------- atomicity
def test_failed_save_keeps_the_old_file(fitted, saved: Path, tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "model.synthkit"
    target.write_bytes(saved.read_bytes())
    before = target.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(persistence, "save_tensors", broken)
    with pytest.raises(OSError, match="disk full"):
        fitted("tvae").save(target)
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.synthkit"]  # no temporary files left
    assert type(synthkit.load_model(target)).name == "ctgan"


def test_failed_first_save_leaves_nothing(fitted, tmp_path: Path, monkeypatch) -> None:
    def broken(self, name, data, *args, **kwargs):
        if name == "weights.safetensors":
            raise KeyboardInterrupt
        return original(self, name, data, *args, **kwargs)

    original = zipfile.ZipFile.writestr
    monkeypatch.setattr(zipfile.ZipFile, "writestr", broken)
    with pytest.raises(KeyboardInterrupt):
        fitted("ctgan").save(tmp_path / "new.synthkit")
    assert os.listdir(tmp_path) == []


def test_save_overwrites_and_creates_folders(fitted, saved: Path, tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "model.synthkit"
    fitted("tvae").save(target)
    assert manifest_of(target)["model"] == "tvae"
    fitted("ctgan").save(target)
    assert manifest_of(target)["model"] == "ctgan"
