"""skselmix/_docstrings.py: the estimators' shared entries, substituted into both docstrings (issue 43)."""

import inspect
import re

import pytest

from skselmix import SelMixClassifier, SelMixClassifierCV
from skselmix._docstrings import ATTRIBUTES, PARAMETERS, entries, substitute


def test_substitute_fills_only_the_named_placeholders():
    @substitute(body="    x : int\n        Fifty {\"a\", \"b\"} %% and 80 % of it.")
    class Documented:
        """Head.

        Parameters
        ----------
    %(body)s
        """

    assert "    x : int" in Documented.__doc__ and '{"a", "b"} %% and 80 % of it.' in Documented.__doc__
    with pytest.raises(ValueError, match=r"unfilled placeholders \['%\(other\)s'\]"):
        @substitute(body="")
        class Missing:
            """%(body)s %(other)s"""


def test_both_estimators_document_the_shared_entries_from_one_table():
    assert list(PARAMETERS) == list(inspect.signature(SelMixClassifier).parameters)
    for estimator in (SelMixClassifier, SelMixClassifierCV):
        doc = estimator.__doc__
        assert "%(" not in doc and "Read more in the :ref:`User Guide" in doc
        for name, text in {**PARAMETERS, **ATTRIBUTES}.items():
            if estimator is SelMixClassifierCV and name == "s":
                continue
            assert text in doc, (estimator.__name__, name)
    assert entries(PARAMETERS, without=("s",)).count(" : ") >= len(PARAMETERS) - 1
    # The class docstring stays short enough to read (issue 43: at most 320 lines).
    assert len(SelMixClassifier.__doc__.splitlines()) <= 320
    # Methods are named in full: the CV class documents them on SelMixClassifier's page.
    assert not re.search(r":meth:`\w+`", SelMixClassifierCV.__doc__)
