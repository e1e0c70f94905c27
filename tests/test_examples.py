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
    out = capsys.readouterr().out
    assert out.strip()  # each example reports what it found
    CHECKS.get(path.stem, lambda out: None)(out)


def _constrained_selection(out):
    # The example exists to show both cases, and a refit that picks a feasible candidate.
    assert "(violates coverage)" in out and "(feasible)" in out
    assert "chosen: init=logit_adjusted" in out


def _search_over_s(out):
    best = float(out.split("best s = ")[1].split(",")[0])
    assert best not in (1.0, 10000.0)  # not at the edge of the grid


CHECKS = {"constrained_selection": _constrained_selection, "search_over_s": _search_over_s}
