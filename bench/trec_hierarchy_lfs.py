"""TREC question classification as a two-level task graph, with LFs at both levels.

Root task ``coarse`` (WRENCH ids: DESC 0, ENTY 1, HUM 2, ABBR 3, LOC 4, NUM 5). Fine tasks hang from five coarse
labels (DESC, HUM, ABBR, LOC, NUM); ENTY's 22 fine classes get no LFs here, so ENTY is one end label.
Coarse LFs: the 68 ImplyLoss regex rules (../shared/data/lfr_trec/rule.txt, the rules behind WRENCH trec), applied
with ``re.search`` to the lower-cased question. Fine LFs: regex/keyword heuristics written below the way a user
would write them after skimming a few questions (not tuned on the test split).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from labelfuse.hierarchy.graph import TaskGraph


def _data_folder() -> Path:
    """$LABELFUSE_DATA's first folder, else the nearest shared/data above the checkout (../shared/data)."""
    from labelfuse.bench.suite import default_data_folder

    found = default_data_folder()
    return found if found is not None else Path("shared") / "data"


DATA = _data_folder()
COARSE = ["DESC", "ENTY", "HUM", "ABBR", "LOC", "NUM"]
RULE_NAMES = {"DESCRIPTION": "DESC", "ENTITY": "ENTY", "HUMAN": "HUM", "ABBREVIATION": "ABBR", "LOCATION": "LOC",
              "NUMERIC": "NUM"}
FINE = {
    "DESC": ["def", "desc", "manner", "reason"],
    "HUM": ["desc", "gr", "ind", "title"],
    "ABBR": ["abb", "exp"],
    "LOC": ["city", "country", "mount", "other", "state"],
    "NUM": ["code", "count", "date", "dist", "money", "ord", "other", "perc", "period", "speed", "temp", "volsize",
            "weight"],
}

# (fine label, regex on the lower-cased question)
FINE_LFS: Dict[str, List[Tuple[str, str]]] = {
    "DESC": [
        ("def", r"^what (is|are) (a |an |the )?[\w-]+( [\w-]+)? \?$"),
        ("def", r"\bdefin|\bmeaning of\b|\bwhat does .+ mean\b"),
        ("reason", r"^why\b|\bwhat causes?\b|\breason\b|\bhow come\b"),
        ("manner", r"^how (do|does|did|can|could|to|should|would)\b"),
        ("desc", r"\b(origin|difference|history) (of|between)\b|\bdescribe\b|\bwhat happened\b"),
    ],
    "HUM": [
        ("desc", r"^who (is|was) [\w.]+( [\w.]+)? \?$"),
        ("ind", r"^who (\w+ed|invented|wrote|played|said|founded|discovered|won)\b"),
        ("ind", r"\bwhat (man|woman|person|actor|actress|president|king|queen|author|writer|singer)\b"),
        ("ind", r"\bname of the (man|woman|person|actor|actress|author|character|president)\b"),
        ("gr", r"\b(company|companies|team|group|organization|band|corporation|university|college|newspaper)\b"),
        ("title", r"\b(title|position|occupation|profession)\b"),
    ],
    "ABBR": [
        ("exp", r"\bstands? for\b|\bfull (form|name) of\b"),
        ("exp", r"\bwhat does [a-z.]{2,8} mean\b"),
        ("abb", r"\babbreviat|\bacronym for\b|\bshort for\b"),
    ],
    "LOC": [
        ("city", r"\b(city|cities|capital|town)\b"),
        ("country", r"\b(country|countries|nation)\b"),
        ("mount", r"\b(mountain|mount|peak|volcano)\b"),
        ("state", r"\b(state|province)\b"),
        ("other", r"^where\b"),
        ("other", r"\b(river|ocean|sea|lake|island|continent|desert|planet)\b"),
    ],
    "NUM": [
        ("count", r"\bhow many\b"),
        ("count", r"\bpopulation\b"),
        ("date", r"^when\b|\bwhat (year|date|day|month|century)\b|\bwhich year\b"),
        ("dist", r"\bhow (far|tall|high|wide|deep)\b|\b(distance|length|height|miles|kilometers)\b"),
        ("money", r"\bcost\b|\bprice\b|\b(dollars|worth|salary|earn)\b"),
        ("perc", r"\bpercent|\bpercentage\b|%"),
        ("period", r"\bhow long\b|\bhow old\b|\blife ?span\b|\blife expectancy\b"),
        ("speed", r"\bhow fast\b|\bspeed\b|\bmph\b"),
        ("temp", r"\btemperature\b|\bdegrees\b|\bhow (hot|cold)\b|\b(boiling|melting|freezing) point\b"),
        ("volsize", r"\bhow (big|large)\b|\bsize\b|\barea\b|\bvolume\b|\bsquare (miles|feet|kilometers)\b"),
        ("weight", r"\bhow heavy\b|\bweigh|\bpounds\b|\btons\b"),
        ("code", r"\b(zip code|area code|telephone number|phone number)\b"),
        ("ord", r"\bwhat (place|rank)\b|\branked\b"),
        ("other", r"\bwhat (number|is the rate)\b"),
    ],
}


def task_graph() -> TaskGraph:
    g = TaskGraph().add_task("coarse", len(COARSE), labels=COARSE)
    for c, fine in FINE.items():
        g.add_task(c, len(fine), parent=("coarse", c), labels=fine)
    return g


def read_raw(split: str) -> Tuple[List[str], List[str], List[str]]:
    """(questions, coarse, fine) from trec_qc_raw: split 'train' (5452) or 'test' (500)."""
    name = {"train": "train_5500.label", "test": "TREC_10.label"}[split]
    texts, coarse, fine = [], [], []
    for line in (DATA / "trec_qc_raw" / name).read_text(encoding="latin-1").splitlines():
        if not line.strip():
            continue
        label, text = line.split(" ", 1)
        c, f = label.split(":")
        texts.append(text.strip())
        coarse.append(c)
        fine.append(f)
    return texts, coarse, fine


def coarse_rules() -> List[Tuple[int, "re.Pattern"]]:
    rules = []
    for line in (DATA / "lfr_trec" / "rule.txt").read_text(encoding="latin-1").splitlines():
        if line.strip():
            label, regex = line.split("\t")[:2]
            rules.append((COARSE.index(RULE_NAMES[label]), re.compile(regex)))
    return rules


def apply_lfs(texts: List[str], with_fine: bool = True, with_coarse: bool = True) -> Dict[str, np.ndarray]:
    """{task: (n, m_t) votes}: the 68 coarse rules and the fine heuristics above (-1 = abstain)."""
    lowered = [t.lower() for t in texts]
    out: Dict[str, np.ndarray] = {}
    if with_coarse:
        rules = coarse_rules()
        out["coarse"] = np.array([[lab if rx.search(t) else -1 for lab, rx in rules] for t in lowered], dtype=np.int64)
    if with_fine:
        for c, lfs in FINE_LFS.items():
            compiled = [(FINE[c].index(lab), re.compile(rx)) for lab, rx in lfs]
            out[c] = np.array([[lab if rx.search(t) else -1 for lab, rx in compiled] for t in lowered], dtype=np.int64)
    return out


def gold_end_labels(graph: TaskGraph, coarse: List[str], fine: List[str]) -> np.ndarray:
    """End label of each question (ENTY questions map to the single ENTY end label)."""
    names = graph.end_label_names()
    return np.array([names.index(f"{c}:{f}" if c in FINE else c) for c, f in zip(coarse, fine)], dtype=np.int64)
