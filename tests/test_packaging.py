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


def test_ci_runs_the_readme_test_and_docs_commands():
    readme = (ROOT / "README.rst").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    indented = [line.strip() for line in readme.splitlines() if line.startswith("    pip")]
    tests = [c for c in indented if "python -m pytest" in c]
    docs = [c for c in indented if "python -m sphinx" in c]
    # The newcomer's command installs what CI's suite needs, so nothing skips for want of an extra.
    assert tests == [
        'pip install torch==2.13.0 && pip install ".[test,datasets,plots,persistence,distributed]" && python -m pytest'
    ]
    assert docs == ['pip install ".[docs]" && python -m sphinx -W -n --keep-going -b html docs docs/_build/html']
    assert "readme_command 'python -m pytest'" in ci and "readme_command 'python -m sphinx'" in ci
    assert ci.index("torch==2.13.0") < ci.index('bash -c "$test_command"') < ci.index('bash -c "$docs_command"')


def test_html_repr_links_the_api_page():
    """The "?" of the HTML repr points at the page docs/api.rst generates for the estimator."""
    from pathlib import Path

    from skselmix import SelMixClassifier
    from skselmix._classifier import DOCUMENTATION_URL

    link = SelMixClassifier()._get_doc_link()
    assert link == DOCUMENTATION_URL + "generated/skselmix.SelMixClassifier.html"
    assert link in SelMixClassifier()._repr_html_()
    api = (Path(__file__).resolve().parents[1] / "docs" / "api.rst").read_text()
    section = api.split("The estimator")[1].split("Objectives")[0]
    assert ":toctree: generated" in section and "SelMixClassifier" in section
