"""A pytest plugin loaded before Django's settings (``-p tests.plain_http`` in pyproject.toml):
the tests talk plain HTTP to 127.0.0.1, in process and to the gunicorn and browser they
start, so they turn off what the demo turns off (``run.py PLAIN_HTTP``): the HTTPS redirect
and the HTTPS-only cookies. Everything else stays as production has it. A variable already
set in the environment wins.
"""

from __future__ import annotations

import os

from run import PLAIN_HTTP

for _name, _value in PLAIN_HTTP.items():
    os.environ.setdefault(_name, _value)
