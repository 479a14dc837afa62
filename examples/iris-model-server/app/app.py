"""A minimal scikit-learn model server: loads a joblib model and serves predictions over HTTP."""
import os

import joblib
from flask import Flask, jsonify, request

app = Flask(__name__)
model = joblib.load(os.environ.get("MODEL_PATH", "/models/model.joblib"))


@app.get("/healthz")
def healthz():
    return "ok"


@app.post("/predict")
def predict():
    features = request.get_json(force=True)["instances"]
    return jsonify(predictions=model.predict(features).tolist())
