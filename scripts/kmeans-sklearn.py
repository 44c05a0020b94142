#!/usr/bin/env python3
"""Builds the k-means quality fixture and scikit-learn's cost on it.

    cargo run --release -- run tests/data/kmeans/features.yaml
    python3 scripts/kmeans-sklearn.py out/kmeans-fixture/windows.csv tests/data/kmeans

Writes DIR/matrix.tsv (features of each window record, standardized with
the population standard deviation, as the kmeans operator does at warmup)
and DIR/sklearn.tsv (for k = 3, 8, 23: the inertia of
KMeans(init="k-means++", n_init=10, random_state=0)).
The Rust test (tests/kmeans.rs) needs no Python: it reads both files.
"""
import csv
import math
import sys

import numpy as np
import sklearn
from sklearn.cluster import KMeans

src, out = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(src)))
feats = []
for r in rows:
    feats.append([
        math.log1p(float(r["count"])),
        math.log1p(float(r["distinct_dsts"])),
        math.log1p(float(r["distinct_dports"])),
        math.log1p(float(r["syn_count"])),
        float(r["len_avg"]),
        float(r["local_anomaly"]),
    ])
x = np.array(feats)
sd = x.std(axis=0)
sd[sd <= 1e-12] = 1.0
x = (x - x.mean(axis=0)) / sd
with open(f"{out}/matrix.tsv", "w") as f:
    for row in x:
        f.write("\t".join(repr(float(v)) for v in row) + "\n")
with open(f"{out}/sklearn.tsv", "w") as f:
    f.write(f"# scikit-learn {sklearn.__version__}: KMeans(init='k-means++', n_init=10, random_state=0).inertia_\n")
    f.write("k\tinertia\n")
    for k in (3, 8, 23):
        km = KMeans(n_clusters=k, init="k-means++", n_init=10, random_state=0).fit(x)
        f.write(f"{k}\t{km.inertia_!r}\n")
print(open(f"{out}/sklearn.tsv").read())
