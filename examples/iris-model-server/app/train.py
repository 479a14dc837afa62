"""Trains the iris classifier at image build time and writes it with joblib (what app.py loads)."""
import sys

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

X, y = load_iris(return_X_y=True)
model = LogisticRegression(max_iter=1000, random_state=0).fit(X, y)
print(f"training accuracy {model.score(X, y):.3f}", file=sys.stderr)
joblib.dump(model, sys.argv[1] if len(sys.argv) > 1 else "model.joblib")
