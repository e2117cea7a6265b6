# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # SMS spam from raw text
#
# The executable script behind docs/tutorials/sms_spam.md: raw SMS messages (a csv of text and a ham/spam
# column), our own labeling functions, LF analysis, a label model, embedding fusion, an end model, save and load.
# The test suite runs it on a sample (``LABELFUSE_TUTORIAL_ROWS``), so a step that stops working fails CI.
# Run it yourself with ``python docs/tutorials/sms_spam.py`` (``--figures DIR`` also writes the figures).

# %%
# --8<-- [start:load]
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import labelfuse as lf

HAM, SPAM = 0, 1


def find_data(name):
    """The folder of a shared data set: $LABELFUSE_DATA (folders separated by os.pathsep), else ../shared/data."""
    roots = [p for p in os.environ.get("LABELFUSE_DATA", "").split(os.pathsep) if p]
    roots.append(str(Path.cwd().parent / "shared" / "data"))
    for root in roots:
        if (Path(root) / name).is_dir():
            return Path(root) / name
    raise FileNotFoundError(f"{name} not found: set LABELFUSE_DATA to the folder that holds it")


def read_split(folder, split, rows=None):
    """One csv split as a DataFrame with a `text` column and a gold `y` column (0 = ham, 1 = spam)."""
    df = pd.read_csv(folder / f"{split}.csv", encoding="latin-1", usecols=[0, 1])
    df.columns = ["label", "text"]
    df["y"] = (df["label"] == "spam").astype(np.int64)
    return df.head(rows).reset_index(drop=True) if rows else df


rows = int(os.environ.get("LABELFUSE_TUTORIAL_ROWS", "0")) or None   # a sample for CI; None = everything
folder = find_data("lfr_sms")
train = read_split(folder, "train", rows)    # we pretend its labels are unknown
valid = read_split(folder, "valid", rows and rows // 4)   # a small labeled dev set
test = read_split(folder, "test", rows and rows // 4)
print(len(train), "train,", len(valid), "valid,", len(test), "test messages")
print(train[["label", "text"]].head(3).to_string())
# --8<-- [end:load]

# %% [markdown]
# ## Write labeling functions
#
# An LF looks at one row (a namedtuple of the DataFrame's columns) and votes a class or abstains (-1).

# %%
# --8<-- [start:lfs]
from labelfuse.labeling import ABSTAIN, keyword_lf, preprocessor, regex_lf

# Keyword and regex LFs need no code: they are built from a spec (f.spec) that can be saved as JSON.
free_win = keyword_lf("free_win", ["free", "win", "won", "winner", "prize", "award", "claim"], SPAM)
text_to = keyword_lf("text_to", ["txt", "text", "reply", "send"], SPAM)
urgent = keyword_lf("urgent", ["urgent", "congratulations", "guaranteed", "selected"], SPAM)
opt_out = keyword_lf("opt_out", ["stop", "unsubscribe", "optout"], SPAM)
phone_number = regex_lf("phone_number", r"\b0?[789]\d{9,10}\b", SPAM)   # premium-rate numbers spam asks you to call
money = regex_lf("money", r"(£|\?\?|\$)\s?\d|\d+p\b|\bcash\b", SPAM)
link = regex_lf("link", r"www\.|http|\.com\b|\.co\.uk\b", SPAM)
first_person = keyword_lf("first_person", ["i'm", "i'll", "im", "ill", "i've", "my", "me"], HAM)
chat = keyword_lf("chat", ["ok", "k", "lor", "lar", "da", "haha", "sorry", "home", "later"], HAM)
love = keyword_lf("love", ["love", "miss", "dear", "babe", "sweet"], HAM)
emoticon = regex_lf("emoticon", r"[:;]-?[)(pd]|\blol\b|\bhaha", HAM)


# Anything else is plain Python. A preprocessor adds fields once per row, for every LF that uses it.
@preprocessor(memoize=True)
def add_shape(x):
    x.n_chars = len(x.text)
    x.has_digit = bool(re.search(r"\d", x.text))
    return x


@lf.labeling_function(pre=[add_shape])
def short_no_digits(x):
    return HAM if x.n_chars < 60 and not x.has_digit else ABSTAIN


lfs = [free_win, text_to, urgent, opt_out, phone_number, money, link,
       first_person, chat, love, short_no_digits, emoticon]
names = [f.name for f in lfs]
L_train = lf.apply_lfs(lfs, train, progress=False)   # (n, m) int8, -1 = abstain
L_valid = lf.apply_lfs(lfs, valid, progress=False)
L_test = lf.apply_lfs(lfs, test, progress=False)
print(L_train.shape, L_train.dtype)
# --8<-- [end:lfs]

# %% [markdown]
# ## Analyse them
#
# Coverage, overlaps and conflicts need no labels; the dev set adds each LF's empirical accuracy.

# %%
# --8<-- [start:analysis]
summary = lf.LFAnalysis(L_valid, lfs).lf_summary(Y=valid["y"].to_numpy())
print(summary.round(3).to_string())
no_vote = (L_train == ABSTAIN).all(axis=1).mean()
print(f"{no_vote:.0%} of train messages get no vote at all")
# --8<-- [end:analysis]

# %% [markdown]
# ## Fit a label model

# %%
# --8<-- [start:label_model]
Y_valid, Y_test = valid["y"].to_numpy(), test["y"].to_numpy()
lm = lf.LabelModel(cardinality=2, method="triplet", random_state=0)
lm.fit(L_train, Y_dev=Y_valid)              # LF accuracies from L alone; the class balance from the dev labels
P_train = lm.predict_proba(L_train)         # (n, 2) posteriors, rows sum to 1
scores = lm.score(L_test, Y_test, metrics=("accuracy", "f1"))
print("label model on test:", {k: round(v, 3) for k, v in scores.items()})
# --8<-- [end:label_model]

# %% [markdown]
# ## Fuse sentence embeddings
#
# Encode the texts once (MiniLM, cached on disk), then let Liger extend every LF's votes to near neighbours and fit
# one label model per part of the embedding space. Thresholds and parts are chosen on the dev set.

# %%
# --8<-- [start:fusion]
from labelfuse.embeddings import encode
from labelfuse.fusion import Liger

X_train = encode(train["text"].tolist(), progress=False)   # (n, 384) float32, L2-normalised
X_valid = encode(valid["text"].tolist(), progress=False)
X_test = encode(test["text"].tolist(), progress=False)

liger = Liger(label_model="triplet", random_state=0)
liger.fit(L_train, X_train, L_valid, X_valid, Y_valid)
P_fused = liger.predict_proba(L_train, X_train)
fused_test = liger.predict_proba(L_test, X_test).argmax(axis=1)
print(f"Liger on test: accuracy {lf.metrics.accuracy(Y_test, fused_test):.3f}, "
      f"f1 {lf.metrics.f1(Y_test, fused_test):.3f}")
# --8<-- [end:fusion]

# %% [markdown]
# ## Train an end model
#
# The end model learns from the fused posteriors and labels every message, also those no LF votes on.
# It needs PyTorch (``pip install ".[torch]"``).

# %%
# --8<-- [start:end_model]
from labelfuse.endmodels import Adapter

adapter = Adapter(max_epochs=30, random_state=0, progress=False)
adapter.fit(X_train, P_fused, X_dev=X_valid, Y_dev=Y_valid)
print(f"Adapter on test: accuracy {adapter.score(X_test, Y_test):.3f}")
# --8<-- [end:end_model]

# %% [markdown]
# ## Save and load
#
# Every estimator saves to one safetensors file; `lf.load` returns the right class.

# %%
# --8<-- [start:save]
with tempfile.TemporaryDirectory() as tmp:
    lm.save(Path(tmp) / "sms.lf")
    liger.save(Path(tmp) / "sms_liger.lf")
    adapter.save(Path(tmp) / "sms_adapter.lf")
    lm2 = lf.load(Path(tmp) / "sms.lf")
    adapter2 = lf.load(Path(tmp) / "sms_adapter.lf")
    assert np.allclose(lm2.predict_proba(L_test), lm.predict_proba(L_test))
    assert np.allclose(adapter2.predict_proba(X_test), adapter.predict_proba(X_test), atol=1e-6)
    print("reloaded:", type(lm2).__name__, type(adapter2).__name__)
# --8<-- [end:save]

# %% [markdown]
# ## Iterate in a Workspace
#
# A Workspace keeps the data, the LFs, their votes and a label model together, and refits after every edit
# from the changed LF's rows alone. The studio (``labelfuse studio``) is a web page over one.

# %%
# --8<-- [start:workspace]
table = pd.concat([train.assign(y=-1, split="train"), valid.assign(split="dev")], ignore_index=True)
ws = lf.Workspace(table, text="text", label="y", split="split", cardinality=2, label_model="triplet")
for f in lfs:
    ws.add(f)
print("dev metrics:", {k: round(v, 3) for k, v in ws.dev_metrics().items()})

# Tighten the weak LF: "txt" or "text" followed by a word in capitals, as in "txt STOP to 85023".
edit = ws.update(regex_lf("text_to", r"\b(txt|text)\s+[A-Z]{2,}\b", SPAM, flags=0))
print(f"{edit.changed_rows} rows changed, refit in {edit.refit_s * 1000:.1f} ms, "
      f"dev accuracy {edit.dev_before['accuracy']:.3f} -> {edit.dev_after['accuracy']:.3f}")
print(ws.rows("uncovered", n=3)[["text"]].to_string())   # what no LF covers yet: ideas for the next LF
ws.undo()                                                 # back to the first version

with tempfile.TemporaryDirectory() as tmp:
    ws.export_lfs(Path(tmp) / "my_lfs.py")       # `labelfuse run DATA --lfs my_lfs.py` reads it back
    ws.save(Path(tmp) / "sms.ws")
    print("workspace reloaded with", len(lf.load(Path(tmp) / "sms.ws", trust_code=True).names), "LFs")
# --8<-- [end:workspace]

# %% [markdown]
# ## Figures (optional)
#
# ``--figures DIR`` writes what the tutorial page shows: each LF's coverage and dev accuracy.

# %%
# --8<-- [start:figures]
if "--figures" in sys.argv:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(sys.argv[sys.argv.index("--figures") + 1])
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    cov = (L_train != ABSTAIN).mean(axis=0)
    acc = summary["Emp. Acc."].to_numpy() if "Emp. Acc." in summary else np.full(len(names), np.nan)
    ax.scatter(cov, acc)
    for c, a, n in zip(cov, acc, names):
        ax.annotate(n, (c, a), fontsize=7, xytext=(3, 2), textcoords="offset points")
    ax.set_xlabel("coverage on train")
    ax.set_ylabel("accuracy on dev")
    ax.set_title("SMS spam: our labeling functions")
    fig.tight_layout()
    fig.savefig(out / "sms_lfs.png", dpi=110)
    print("wrote", out / "sms_lfs.png")
# --8<-- [end:figures]
