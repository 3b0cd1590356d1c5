"""Dataset shapes and keys live in the core: importable without connectors, exported by synthkit."""

import subprocess
import sys

import synthkit
import synthkit.connectors
import synthkit.schema


def test_shapes_are_exported_from_synthkit_and_reexported_by_connectors():
    for name in ("SequenceDataset", "RecordDataset", "Relationship"):
        assert name in synthkit.__all__
        assert getattr(synthkit, name) is getattr(synthkit.schema, name)
        assert getattr(synthkit.connectors, name) is getattr(synthkit.schema, name)


def test_core_schema_does_not_import_connectors():
    code = (
        "import sys, synthkit.schema, synthkit.metadata; "
        "print(any(m.startswith('synthkit.connectors') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
