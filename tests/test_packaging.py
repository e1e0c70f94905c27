"""The repository's promises about itself: version, public API, CI, README."""

import re
from pathlib import Path

import skselmix

ROOT = Path(__file__).resolve().parents[1]


def test_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", skselmix.__version__)


def test_public_api_is_exported():
    for name in skselmix.__all__:
        assert hasattr(skselmix, name), name


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.rst").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in readme.splitlines() if "python -m pytest" in line and line.startswith("    pip")]
    assert commands == ['pip install torch==2.13.0 && pip install ".[test]" && python -m pytest']
    assert "grep -m1 -E '^ +pip install .*python -m pytest' README.rst" in ci
    assert ci.index("torch==2.13.0") < ci.index('".[test,datasets,benchmarks,persistence,distributed]"')
