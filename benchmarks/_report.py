"""Pieces every benchmark report shares: its time stamp and its stored run."""

import json
import time


def utc_now():
    """The time stamp of a benchmark run, as the reports print it."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def stored_run(parser, path, required):
    """The run stored as JSON at ``path``, or ``{}`` when there is none.

    ``required`` (``--report-only``) makes a missing store an error of ``parser``,
    instead of a traceback or an empty report.
    """
    if not path.exists():
        if required:
            parser.error(f"--report-only needs a stored run, and {path} does not exist; run without it first.")
        return {}
    return json.loads(path.read_text())
