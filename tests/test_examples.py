"""Every example runs (on small data), so none can rot."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path, tmp_path, monkeypatch, capsys):
    if path.stem in ("plotting", "search_over_s", "constrained_selection"):
        pytest.importorskip("matplotlib")
        import matplotlib

        matplotlib.use("Agg")
    monkeypatch.setenv("SKSELMIX_EXAMPLES_OUT", str(tmp_path))
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    if "matplotlib" in sys.modules:
        import matplotlib.pyplot as plt

        plt.close("all")
    assert out.strip()  # each example reports what it found
    CHECKS.get(path.stem, lambda out: None)(out)


def _tabular_adapter(out):
    # The example's point: the adapter lifts what a linear head cannot reach, above gradient boosting.
    rows = {line.split("  min recall")[0].strip(): line for line in out.splitlines() if "min recall" in line}
    value = lambda name, what: float(rows[name].split(what + " ")[1].split()[0])  # noqa: E731
    assert value("SelMix, adapter (128,)", "min recall") > value("SelMix, linear head", "min recall") + 0.1
    assert value("SelMix, adapter (128,)", "mean recall") > value("gradient boosting (balanced)", "mean recall")


def _constrained_selection(out):
    # The example exists to show both cases, and a refit that picks a feasible candidate. Its
    # docstring says the cross-entropy starts get about half their fair share of predictions
    # (and violate the floor) and the logit-adjusted ones meet it.
    for line in out.splitlines():
        if line.startswith("init=cross_entropy"):
            assert "(violates coverage)" in line and 0.35 <= float(line.split("x K ")[1].split()[0]) <= 0.65, line
        elif line.startswith("init=logit_adjusted"):
            assert "(feasible)" in line, line
    assert "chosen: init=logit_adjusted" in out


def _search_over_s(out):
    # What the example prints agrees with itself: the chosen s has the best score listed,
    # for both searches.
    def scores(kind):
        lines = [line for line in out.splitlines() if f": {kind} min recall" in line]
        return [(float(line.split("=")[1].split(":")[0]), float(line.split("recall ")[1].split()[0])) for line in lines]

    for kind, chosen in (("out-of-fold", "s_ = "), ("outer-fold", "best s = ")):
        listed = scores(kind)
        assert len(listed) == 5
        best = max(score for _, score in listed)
        assert dict(listed)[float(out.split(chosen)[1].split(",")[0])] == best


CHECKS = {"constrained_selection": _constrained_selection, "search_over_s": _search_over_s,
          "tabular_adapter": _tabular_adapter}
