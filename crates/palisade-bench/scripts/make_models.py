"""Writes the model benchmark's inputs into OUTDIR (nothing here is ever loaded back):
  rf.pkl       a scikit-learn RandomForestClassifier pickled with pickle (about 40 MB)
  rf.joblib    the same model written by joblib.dump (numpy arrays as raw bytes between opcodes)
  opcodes.pkl  a pickle of three million opcodes (a list of small ints and short strings)
and prints each file's size and opcode count (pickletools.genops only reads opcodes).
usage: python3 make_models.py OUTDIR   (needs scikit-learn and joblib)"""
import os
import pickle
import pickletools
import sys

import joblib
import numpy as np
from sklearn.ensemble import RandomForestClassifier

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
X = rng.normal(size=(20000, 20))
y = (X[:, 0] + rng.normal(scale=2.0, size=20000) > 0).astype(int)
trees = 12
while True:
    model = RandomForestClassifier(n_estimators=trees, random_state=0, n_jobs=2).fit(X, y)
    data = pickle.dumps(model, protocol=4)
    if len(data) >= 40_000_000 or trees > 400:
        break
    trees = int(trees * 40_000_000 / len(data)) + 1
with open(os.path.join(out, "rf.pkl"), "wb") as f:
    f.write(data)
joblib.dump(model, os.path.join(out, "rf.joblib"))

items = []
for i in range(1_000_000):
    items.append(i % 250)            # BININT1
    items.append("s%d" % (i % 5000))  # BINUNICODE (+ MEMOIZE), or BINGET once memoised
with open(os.path.join(out, "opcodes.pkl"), "wb") as f:
    pickle.dump(items, f, protocol=4)

for name in ["rf.pkl", "rf.joblib", "opcodes.pkl"]:
    path = os.path.join(out, name)
    with open(path, "rb") as f:
        data = f.read()
    try:
        count = sum(1 for _ in pickletools.genops(data))
    except Exception:  # joblib's raw array bytes are not opcodes; genops stops there
        count = -1
    print(f"{name}\t{len(data)}\t{count}")
