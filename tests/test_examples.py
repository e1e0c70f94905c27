"""Every example runs (on small data), so none can rot."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path, tmp_path, monkeypatch, capsys):
    if path.stem == "plotting":
        pytest.importorskip("matplotlib")
    monkeypatch.setenv("SKSELMIX_EXAMPLES_OUT", str(tmp_path))
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out.strip()  # each example reports what it found
