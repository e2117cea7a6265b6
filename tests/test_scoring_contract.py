"""The one scoring contract: score() of every label model, labelfuse.metrics.score, `labelfuse run` and the bench
score abstentions the same way, report their count, and warn with it."""
import hashlib
import json
import warnings

import numpy as np
import pytest

import labelfuse as lf
from labelfuse import metrics
from labelfuse.synthetic import make_label_matrix


def snorkel_rule_reference(P: np.ndarray) -> np.ndarray:
    """WRENCH's scoring written out slowly from its description (Snorkel's probs_to_preds, policy "random"):
    classes within 1e-5 of the row maximum tie; row i takes tied class number int(sha1(str(i))) mod (count)."""
    out = np.empty(P.shape[0], dtype=np.int64)
    for i, row in enumerate(P):
        top = [c for c in range(P.shape[1]) if abs(row[c] - row.max()) < 1e-5]
        out[i] = top[int(hashlib.sha1(str(i).encode()).hexdigest(), 16) % len(top)]
    return out


def test_hash_policy_reproduces_wrench_tie_breaking():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(4), size=500)
    P[::3] = 0.25                                    # every class tied
    P[1::7] = [0.4, 0.4 - 5e-6, 0.1, 0.1 + 5e-6]     # tied within 1e-5 (WRENCH's tolerance), not within 1e-9
    expected = snorkel_rule_reference(P)
    np.testing.assert_array_equal(metrics.break_ties(P, "hash"), expected)
    # the hash spreads ties over the classes (not always the first), and is the same every call
    assert len(set(expected[::3])) == 4
    np.testing.assert_array_equal(metrics.break_ties(P, "hash"), expected)


def test_score_report_counts_and_warns_for_every_policy():
    s = make_label_matrix(3000, 4, 2, coverage=(0.2, 0.3), random_state=1)
    mv = lf.MajorityVote(random_state=0).fit(s.L)
    no_vote = (s.L < 0).all(axis=1)
    for policy in metrics.TIE_POLICIES:
        with pytest.warns(lf.AbstentionWarning, match=r"MajorityVote: abstained on (\d+) of 3000 rows") as rec:
            report = mv.score(s.L, s.Y, ["accuracy", "f1"], tie_policy=policy)
        assert report.tie_policy == policy and report.n_rows == 3000
        assert report.n_abstained >= no_vote.sum() > 0
        assert str(report.n_abstained) in str(rec[0].message)
        pred = mv.predict(s.L, tie_policy=policy)
        assert report["accuracy"] == pytest.approx(np.mean(pred == s.Y))
    # "abstain" counts them wrong: the other policies give them a class, so score higher on these data
    with pytest.warns(lf.AbstentionWarning):
        low = mv.score(s.L, s.Y, tie_policy="abstain")["accuracy"]
    with pytest.warns(lf.AbstentionWarning):
        high = mv.score(s.L, s.Y, tie_policy="prior")["accuracy"]
    assert high > low


def test_no_warning_without_abstentions():
    s = make_label_matrix(500, 6, 2, coverage=(0.9, 0.95), random_state=2)
    lm = lf.LabelModel(method="dawid_skene", random_state=0).fit(s.L, Y_dev=s.Y[:100])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = lm.score(s.L, s.Y)
    assert report.n_abstained == 0 and "no abstentions" in report.describe()


def test_metrics_score_equals_estimator_score():
    s = make_label_matrix(2000, 5, 3, coverage=(0.2, 0.4), random_state=3)
    mv = lf.MajorityVote(tie_policy="hash").fit(s.L)
    with pytest.warns(lf.AbstentionWarning):
        api = mv.score(s.L, s.Y, ["accuracy", "macro_f1"])
    # majority vote's rows without votes are ties whatever class balance predict_proba reports for them
    P = mv.predict_proba(s.L)
    with pytest.warns(lf.AbstentionWarning):
        direct = metrics.score(s.Y, P, ["accuracy", "macro_f1"], tie_policy="hash")
    assert api == direct and api.n_abstained == direct.n_abstained


@pytest.mark.parametrize("policy", ["abstain", "hash"])
def test_api_equals_cli(tmp_path, capsys, policy):
    """`labelfuse run` prints, for each label model, the numbers that model's score() returns."""
    from labelfuse.cli import main

    out_json = tmp_path / "report.json"
    assert main(["run", "--no-fusion", "--no-end-model", "--tie-policy", policy, "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    stages = {s["stage"]: s for s in json.loads(out_json.read_text())["stages"]}
    ds = lf.load_dataset("wrench_youtube")
    models = {"label model: majority vote": lf.MajorityVote(cardinality=2),
              "label model: triplet": lf.LabelModel(cardinality=2, method="triplet"),
              "label model: dawid_skene": lf.LabelModel(cardinality=2, method="dawid_skene")}
    for stage, model in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", lf.LabelfuseWarning)  # (the fit diagnostics are tested elsewhere)
            model.fit(ds.train.L)
            api = model.score(ds.test.L, ds.test.Y, ["accuracy", "f1"], tie_policy=policy, warn=False)
        assert stages[stage]["test acc"] == api["accuracy"], stage
        assert stages[stage]["test F1"] == api["f1"], stage
        assert stages[stage]["test abstained"] == api.n_abstained, stage
    assert f"tie_policy={policy!r}" in text
    if policy == "abstain":  # majority vote abstains on the rows without votes: said in the report's warnings
        assert "AbstentionWarning: MajorityVote: abstained on" in text


def test_pipeline_lets_warnings_through():
    from labelfuse.pipeline import run

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = run("wrench_youtube", fusion=False, end_model=False, progress=False)
    categories = {w.category for w in caught}
    assert lf.AbstentionWarning in categories  # majority vote abstains on 44 test rows under "abstain"
    assert all(issubclass(c, Warning) for c in categories)
    assert report.tie_policy == "abstain"
