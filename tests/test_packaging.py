"""A plain (non-editable) install ships every subpackage of the source tree."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _installed_name(package_dir: Path, mapping: dict[str, str]) -> str:
    """The import name of a source folder under the project's ``package-dir`` mapping."""
    relative = package_dir.relative_to(ROOT).as_posix()
    for name, folder in sorted(mapping.items(), key=lambda item: -len(item[1])):
        if relative == folder or relative.startswith(folder + "/"):
            return name + relative[len(folder) :].replace("/", ".")
    raise AssertionError(f"{relative} is outside every package-dir folder")


def test_every_source_package_is_listed_for_installation():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = setuptools["package-dir"]
    found = {
        _installed_name(init.parent, mapping)
        for folder in mapping.values()
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert found, mapping
    missing = found - set(setuptools["packages"])
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"
