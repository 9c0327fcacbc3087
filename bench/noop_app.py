"""The floor for bench_incidents.py: a Flask app doing nothing but parse the JSON body.

    gunicorn --pythonpath bench 'noop_app:app'

Same route and status as gridmap's report endpoint (POST /api/v1/incidents -> 201), so the
load generator treats both servers alike; GET / answers the readiness probe.
"""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.get("/")
def ready():
    return jsonify({"ok": True})


@app.post("/api/v1/incidents")
def report():
    request.get_json(silent=True)
    return jsonify({"ok": True}), 201
