"""environment.yml must install what pyproject.toml declares (pyproject is the source of truth)."""

import tomllib

import yaml
from conftest import ROOT
from packaging.specifiers import SpecifierSet
from packaging.version import Version


def test_environment_yml_installs_the_package_with_every_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    extras = sorted(project["optional-dependencies"])
    assert f"-e .[{','.join(extras)}]" in pip
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    # conda's "python=3.11" means any 3.11.x: its oldest release must satisfy requires-python.
    oldest = Version(python.split("=")[1] + ".0")
    assert oldest in SpecifierSet(project["requires-python"]), (python, project["requires-python"])


def test_torch_is_pinned_exactly_everywhere():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch = [d for d in project["dependencies"] if d.startswith("torch")]
    assert torch == ["torch==2.13.0"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip[0] == "torch==2.13.0", "torch is installed first, pinned"
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet torch==2.13.0" in makefile
