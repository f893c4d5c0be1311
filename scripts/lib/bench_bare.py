"""The reference of scripts/bench's tail scenario: a bare Flask JSON endpoint, as `gunicorn -w 2` serves
it (gunicorn's default sync workers), in a server of its own: what a plain Flask deployment answers on
the same machine in the same run.

    python -m gunicorn -w 2 -b 127.0.0.1:PORT --chdir scripts/lib bench_bare:app
"""
from flask import Flask, jsonify

from bench_server import PING

app = Flask("bench-bare")
app.add_url_rule(PING, "bench_ping", lambda: jsonify(ok=True))
