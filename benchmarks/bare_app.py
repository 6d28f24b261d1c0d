"""The baseline for the API benchmark: a bare Flask JSON endpoint, served by the same gunicorn settings.

It parses the JSON body and answers a small JSON object, which is the least any JSON endpoint does.
"""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/echo")
def echo():
    body = request.get_json(force=True, silent=True) or {}
    return jsonify({"received": len(body), "cpt_code": body.get("cpt_code")})
