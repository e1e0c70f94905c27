"""Every benchmark runs end to end at tiny sizes (issue 33, goal 7).

Each test swaps the benchmark's data for a small synthetic set with the same shape of
problem (ten long-tailed classes, a balanced test set) and its results folder for a
temporary one, runs its ``main`` and checks what it wrote. The swaps are of the
benchmark's own module-level names (data sources, results folder); nothing in skselmix
is replaced. ``perf`` and ``cost`` have ``--quick`` runs marked slow in
``test_benchmark_code.py``; ``tabular`` has its own test there.
"""

import ast
import functools
from pathlib import Path

import numpy as np
import pytest

from benchmarks import _methods as M

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
N_CLASSES, N_FEATURES = 10, 8


def _blobs(counts, seed, shift=0):
    rng = np.random.RandomState(seed + shift)
    means = np.random.RandomState(seed).normal(scale=2.0, size=(N_CLASSES, N_FEATURES))
    y = np.repeat(np.arange(N_CLASSES), counts)
    return (means[y] + rng.normal(size=(y.size, N_FEATURES))).astype(np.float32), y


def tiny_split(seed):
    """Ten classes, 40 down to 4 training rows, 6 validation and 12 test rows a class."""
    counts = np.geomspace(40, 4, N_CLASSES).round().astype(int)
    X_tr, y_tr = _blobs(counts, seed)
    X_val, y_val = _blobs(6, seed, 1)
    X_te, y_te = _blobs(12, seed, 2)
    return M.Split(X_tr, y_tr, X_val, y_val, X_te, y_te, N_CLASSES)


def tiny_problem(seed):
    split = tiny_split(seed)
    return split.X_train, split.y_train, split.X_test, split.y_test, {}


def tiny_mixed_units(seed):
    """:func:`tiny_problem` with columns in units from 1e-3 to 1e3 (the fit standardises them)."""
    X, y, X_test, y_test, params = tiny_problem(seed)
    units = np.logspace(-3, 3, N_FEATURES)
    return X * units, y, X_test * units, y_test, params


@pytest.fixture
def fast_selmix(monkeypatch):
    """Short SelMix fits inside the benchmarks' method wrappers (their defaults run 1000 steps)."""
    from skselmix import SelMixClassifier

    original = SelMixClassifier.__init__

    @functools.wraps(original)
    def short(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if self.max_iter:
            self.max_iter = 20

    monkeypatch.setattr(SelMixClassifier, "__init__", short)


def _rooted_in(expr, names):
    while isinstance(expr, ast.Attribute):
        expr = expr.value
    return isinstance(expr, ast.Name) and expr.id in names


def test_no_benchmark_imports_private_modules_or_patches_skselmix():
    """Private names come through benchmarks/_internals.py only, and no benchmark assigns to
    an attribute of skselmix (the oracle once replaced a private method and broke silently)."""
    offenders = []
    for path in sorted(BENCHMARKS.glob("*.py")):
        tree = ast.parse(path.read_text())
        skselmix_names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("skselmix"):
                private = node.module.split(".")[-1].startswith("_") or any(a.name.startswith("_") for a in node.names)
                if private and path.name != "_internals.py":
                    offenders.append(f"{path.name}: from {node.module} import ...")
                skselmix_names.update(a.asname or a.name for a in node.names)
            elif isinstance(node, ast.Import):
                skselmix_names.update(a.asname or a.name for a in node.names if a.name.startswith("skselmix"))
        of_skselmix = functools.partial(_rooted_in, names=skselmix_names)
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            patched = [t for t in targets if isinstance(t, ast.Attribute) and of_skselmix(t)]
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("setattr") and of_skselmix(node.args[0]):
                patched.append(node.args[0])
            offenders += [f"{path.name}:{node.lineno} patches {ast.unparse(t)}" for t in patched]
    assert not offenders, offenders


def test_no_benchmark_program_imports_another():
    """Programs (``python -m benchmarks.NAME``) share code through modules whose names start
    with ``_`` (data, methods, report, timing); a program never imports another program."""
    programs = {path.stem for path in BENCHMARKS.glob("*.py") if not path.stem.startswith("_")}
    offenders = []
    for path in sorted(BENCHMARKS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = (node.module or "").removeprefix("benchmarks").lstrip(".")
                if node.level or (node.module or "").startswith("benchmarks"):
                    named = [module.split(".")[0]] if module else [alias.name for alias in node.names]
                    offenders += [f"{path.name}:{node.lineno} imports {name}" for name in named if name in programs]
            elif isinstance(node, ast.Import):
                offenders += [f"{path.name}:{node.lineno} imports {alias.name}" for alias in node.names
                              if alias.name.startswith("benchmarks.") and alias.name.split(".")[1] in programs]
    assert programs and not offenders, offenders


def test_semi_supervised_oracle_runs(monkeypatch):
    from benchmarks import semi_supervised, semi_supervised_oracle

    def tiny_semi_split(seed, rho_u, n_max_u):
        split = tiny_split(seed)
        X_u, y_u = _blobs(np.geomspace(30, 3, N_CLASSES).round().astype(int), seed, 3)
        return split.X_train, split.y_train, X_u, y_u, split.X_val, split.y_val, split.X_test, split.y_test

    monkeypatch.setattr(semi_supervised_oracle, "make_split", tiny_semi_split)
    monkeypatch.setattr(semi_supervised_oracle, "SETTINGS", {"tiny": semi_supervised.SETTINGS["uniform (rho_u=1)"]})
    lines = semi_supervised_oracle.main(["--seeds", "1"], max_iter=20)
    assert len(lines) == 1 and all(v in lines[0] for v in semi_supervised_oracle.VARIANTS)


def test_semi_supervised_runs(monkeypatch, tmp_path):
    from benchmarks import _data, semi_supervised

    def tiny_fetch(subset):
        return _blobs(120 if subset == "train" else 12, 0, subset == "test")  # 100 validation rows a class

    monkeypatch.setattr(_data, "fetch_fashion_mnist_embeddings", tiny_fetch)
    monkeypatch.setattr(semi_supervised, "RESULTS", tmp_path)
    monkeypatch.setattr(semi_supervised, "SETTINGS", {"tiny": (1.0, 10)})
    monkeypatch.setattr(_data, "long_tailed_profile", lambda n_max, k, rho: np.full(k, 8))
    semi_supervised.main(["--seeds", "1"])
    text = (tmp_path / "semi_supervised.md").read_text()
    assert "SelMix, semi-supervised" in text and "LA + SelfTrainingClassifier" in text


@pytest.mark.usefixtures("fast_selmix")
def test_paired_runs_every_group(monkeypatch, tmp_path):
    from benchmarks import paired

    monkeypatch.setattr(paired, "SPLITS", {"fashion": tiny_split, "wordnet": tiny_split})
    monkeypatch.setattr(paired, "RESULTS", tmp_path)
    for group in ("core", "baselines", "objectives"):
        paired.main(["--datasets", "fashion", "--seeds", "1", "2", "--group", group])
    text = (tmp_path / "paired.md").read_text()
    assert paired.SELMIX_CV in text and "CSL [min_recall], cv=5" in text


@pytest.mark.usefixtures("fast_selmix")
def test_calibration_runs(monkeypatch, tmp_path):
    from benchmarks import calibration

    def splits():
        for seed in (1, 2):
            s = tiny_split(seed)
            yield seed, (s.X_train, s.y_train, s.X_val, s.y_val, s.X_test, s.y_test)

    monkeypatch.setattr(calibration, "DATASETS", {"digits": ("tiny", splits, ("hold-out", "cv=5"))})
    monkeypatch.setattr(calibration, "RESULTS", tmp_path)
    calibration.main(["--datasets", "digits"])
    assert "CalibratedClassifierCV(SelMix, cv=3)" in (tmp_path / "calibration.md").read_text()


@pytest.mark.usefixtures("fast_selmix")
def test_honest_and_selection_traces_run(monkeypatch, tmp_path):
    from benchmarks import _problems as problems
    from benchmarks import honest, selection_traces

    monkeypatch.setitem(problems.PROBLEMS, "tiny", tiny_problem)
    monkeypatch.setattr(honest, "RESULTS", tmp_path)
    monkeypatch.setattr(selection_traces, "TRACES", tmp_path / "traces")
    honest.main(["--problems", "tiny", "--seeds", "1", "2", "--repeats", "1", "--output", "tiny"])
    assert "| tiny | 2 |" in (tmp_path / "tiny.md").read_text()
    selection_traces.main(["--problems", "tiny", "--seeds", "1"])
    trace = np.load(tmp_path / "traces" / "tiny_1.npz")
    assert trace["oof"].shape == (trace["steps"].size, trace["y"].size)
    assert trace["test"].shape == (trace["steps"].size, trace["y_test"].size)


@pytest.mark.usefixtures("fast_selmix")
def test_quality_and_wordnet_noise_run(monkeypatch, tmp_path):
    from benchmarks import quality, wordnet_noise

    monkeypatch.setattr(quality, "RESULTS", tmp_path)
    monkeypatch.setattr(quality, "wordnet_split", tiny_split)
    monkeypatch.setattr(quality, "class_names", lambda name: [str(c) for c in range(N_CLASSES)])
    quality.main(["--datasets", "wordnet", "--seeds", "1"])
    assert "SelMix [min_recall], cv=5" in (tmp_path / "quality.md").read_text()
    monkeypatch.setattr(wordnet_noise, "RESULTS", tmp_path)
    monkeypatch.setattr(wordnet_noise, "wordnet_split", tiny_split)
    wordnet_noise.main(["--seeds", "1"])
    assert (tmp_path / "wordnet_noise.md").exists()


def test_import_time_runs(monkeypatch, tmp_path):
    from benchmarks import import_time

    monkeypatch.setattr(import_time, "RESULTS", tmp_path / "import_time.md")
    monkeypatch.setattr(import_time, "seconds", functools.partial(import_time.seconds, repeats=1))
    monkeypatch.setattr(import_time, "STATEMENTS", dict(import_time.STATEMENTS))
    import_time.main()
    assert "| `import skselmix` |" in (tmp_path / "import_time.md").read_text()


@pytest.mark.usefixtures("fast_selmix")
def test_scaling_runs(monkeypatch, tmp_path):
    from benchmarks import _problems as problems
    from benchmarks import scaling

    monkeypatch.setitem(problems.PROBLEMS, "tiny", tiny_mixed_units)
    monkeypatch.setattr(scaling, "RESULTS", tmp_path)
    results = scaling.main(["--problems", "tiny", "--seeds", "1", "2"])
    assert {run["auto"]["chose"] for run in results["tiny"]["runs"]} == {"standardize"}
    page = (tmp_path / "scaling.md").read_text()
    assert "| tiny | " in page and " | 2 | " in page and results["tiny"]["share"] > 0.02
    scaling.main(["--report-only"])
    assert (tmp_path / "scaling.md").read_text() == page
    # A problem not named keeps its stored rows.
    monkeypatch.setitem(problems.PROBLEMS, "tiny_again", tiny_mixed_units)
    again = scaling.main(["--problems", "tiny_again", "--seeds", "1"])
    assert set(again) == {"tiny", "tiny_again"} and again["tiny"]["runs"] == results["tiny"]["runs"]


@pytest.mark.usefixtures("fast_selmix")
def test_selection_traces_map_test_rows_as_the_fit_does(monkeypatch, tmp_path):
    """On columns in different units the fit standardises them ("auto"); the traces' test
    predictions of the returned step must be the fitted model's own."""
    from benchmarks import _problems as problems
    from benchmarks import selection_traces
    from skselmix import SelMixClassifier

    monkeypatch.setitem(problems.PROBLEMS, "tiny_units", tiny_mixed_units)
    monkeypatch.setattr(selection_traces, "TRACES", tmp_path)
    clf, _, _ = selection_traces.record("tiny_units", 1)
    assert clf.column_scaling_ == "standardize"
    trace = np.load(tmp_path / "tiny_units_1.npz")
    X, y, X_test, _, _ = tiny_mixed_units(1)
    last = SelMixClassifier(selection_confidence=0, device="cpu", random_state=1, n_iter_no_change=None).fit(X, y)
    assert last.best_step_ == trace["steps"][np.argmax(trace["values"])]
    step = list(trace["steps"]).index(last.best_step_)
    agree = np.mean(trace["test"][step] == np.searchsorted(last.classes_, last.predict(X_test)))
    assert agree > 0.95


def test_large_k_runs_every_part(monkeypatch, tmp_path, fast_selmix):
    from benchmarks import large_k

    def tiny(seed=0, k=N_CLASSES, d=N_FEATURES):
        return large_k.embedding_like_rows(large_k.decaying_counts(k, 30, 4), 6, d, latent=4, seed=seed)

    monkeypatch.setattr(large_k, "RESULTS", tmp_path)
    monkeypatch.setattr(large_k, "imagenet_lt_like", tiny)
    monkeypatch.setattr(large_k, "wordnet_hypernyms", tiny)
    monkeypatch.setattr(large_k, "inat_like", lambda: tiny(k=12))
    monkeypatch.setattr(large_k, "INAT_CLASSES", 12)
    monkeypatch.setattr(large_k, "GROWTH_BASE", {"N": 300, "D": 8, "K": 5})
    monkeypatch.setattr(large_k, "GROWTH_GRID", {"N": (300, 600), "D": (8, 16), "K": (5, 10)})
    monkeypatch.setattr(large_k, "PROBLEMS", {"imagenet_lt": tiny, "wordnet": tiny})
    traced = large_k.trace_part
    monkeypatch.setattr(large_k, "trace_part", lambda device: traced(device, load=tiny))
    confident = large_k.confident_part
    monkeypatch.setattr(large_k, "confident_part", lambda device: confident(device, ks=(16,), d=8, repeats=1))
    # The memory part's fresh processes would load the real problems: it runs here in-process.
    monkeypatch.setattr(large_k, "in_fresh_process", lambda call, *args: getattr(large_k, call)(*args))
    large_k.main([])
    page = (tmp_path / "large_k.md").read_text()
    assert "K = 1000: cost and quality" in page and "| WordNet hypernyms | SelMix default (cv=5) |" in page
    assert "K = 8192" in page and "Fitted exponents" in page
    assert "what fine-tuning buys, paired against the warm start" in page and "| min_group_recall |" in page
    assert "The gain of a confident head from 2048 classes" in page and "one full-length trace" in page
    large_k.main(["--report-only"])  # the report rewrites from the stored run alone
    assert (tmp_path / "large_k.md").read_text() == page
    assert large_k.decaying_counts(1000, 1280, 5, total=115_000).sum() == pytest.approx(115_000, rel=0.01)


def test_large_k_measures_memory_in_a_fresh_process():
    from benchmarks import large_k

    point = large_k.in_fresh_process("growth_point", 300, 8, 5, "cpu")
    assert point["N"] == 300 and point["K"] == 5 and point["seconds"] > 0 and point["peak_memory_mib"] >= 0


def test_out_of_core_runs(monkeypatch, tmp_path):
    from benchmarks import out_of_core

    monkeypatch.setattr(out_of_core, "RESULTS", tmp_path)
    monkeypatch.setattr(out_of_core, "DATA", tmp_path / "data")
    monkeypatch.setattr(out_of_core, "FIT_SHAPE", {"d": 8, "k": 5, "target_bytes": 4 * 8 * 300})
    monkeypatch.setattr(out_of_core, "PREDICT_SHAPE", {"n": 500, "d": 8, "k": 20})
    out_of_core.main(["--fit-bytes", str(4 * 8 * 300)])
    text = (tmp_path / "out_of_core.md").read_text()
    assert "N = 300, D = 8, K = 5" in text and "Test predictions alike: 1.0000 of 250 rows" in text
    assert text.count("| `predict") == 4


def test_busy_machine_runs(monkeypatch, tmp_path):
    import json

    from benchmarks import busy_machine

    monkeypatch.setattr(busy_machine, "RESULTS", tmp_path)
    monkeypatch.setattr(busy_machine, "SHAPE", {"n": 300, "d": 8, "k": 5})
    monkeypatch.setattr(busy_machine, "SPINNERS", 1)
    monkeypatch.setattr(busy_machine, "SPIN_UP_S", 0.0)
    monkeypatch.setattr(busy_machine, "QUIET_PAUSE_S", 0.0)
    busy_machine.main(["--rounds", "1"])
    text = (tmp_path / "busy_machine.md").read_text()
    assert "N = 300, D = 8, K = 5" in text and "Busy: 1 processes" in text
    runs = json.loads((tmp_path / "busy_machine.json").read_text())["runs"]
    policies = {run["method"]: run["policy"] for run in runs}
    assert policies["SelMix"] == "PASSIVE" and policies["SelMix, torch imported first"] == "unset"
    assert set(policies) == set(busy_machine.METHODS) and "| cores used, quiet |" in text
    assert all(run["cpu_seconds"] > 0 for run in runs)
