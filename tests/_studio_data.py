"""A small labelled text set with a known generative model, shared by the studio's server and browser tests.

Class 1 ("SPAM") rows contain "win" with probability 0.6 and "click" with 0.4; class 0 ("HAM") rows contain "thanks"
with 0.5 and "win" with 0.05; every row may contain "video". The first 120 rows are the dev split. The embeddings put
each class around its own centre, so a row's nearest neighbours share its class far more often than chance.
"""
import numpy as np
import pandas as pd

CLASS_NAMES = ["HAM", "SPAM"]


def studio_frame(n=600, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    texts = []
    for c in y:
        words = ["some", "comment"]
        if c == 1:
            words += ["win"] * (rng.random() < 0.6) + ["click"] * (rng.random() < 0.4)
        else:
            words += ["thanks"] * (rng.random() < 0.5) + ["win"] * (rng.random() < 0.05)
        words += ["video"] * (rng.random() < 0.3)
        rng.shuffle(words)
        texts.append(" ".join(words))
    split = np.where(np.arange(n) < 120, "dev", "train")
    centres = rng.normal(size=(2, 8))
    X = (centres[y] + 0.4 * rng.normal(size=(n, 8))).astype(np.float32)
    return pd.DataFrame({"text": texts, "label": y, "split": split}), X


def studio_workspace(n=600, seed=0, embeddings=True):
    from labelfuse import Workspace

    frame, X = studio_frame(n, seed)
    return Workspace(frame, label="label", split="split", dev_split="dev", cardinality=2,
                     embeddings=X if embeddings else None)
