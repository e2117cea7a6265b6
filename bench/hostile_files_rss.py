"""Peak memory of ``labelfuse.load`` on hostile model files: each file is written here, then loaded in a fresh
subprocess that reports its peak RSS (getrusage) next to the error it got, and a genuine file's as the baseline.

    PYTHONPATH=python python bench/hostile_files_rss.py
"""
from __future__ import annotations

import json
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

CHILD = """
import resource, sys
import labelfuse as lf
try:
    lf.load(sys.argv[1]); outcome = "loaded"
except Exception as exc:
    outcome = f"{type(exc).__name__}: {str(exc)[:110]}"
print(f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}\\t{outcome}")
"""


def main() -> None:
    import labelfuse as lf
    from labelfuse.synthetic import make_label_matrix
    from safetensors import safe_open
    from safetensors.numpy import save_file

    tmp = Path(tempfile.mkdtemp())
    s = make_label_matrix(1000, 5, 2, random_state=0)
    good = lf.LabelModel(cardinality=2).fit(s.L).save(tmp / "good.lf")
    with safe_open(str(good), "numpy") as f:
        meta, arrays = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    files = {"genuine LabelModel": good}

    header = json.dumps({"__metadata__": {"format": "labelfuse"}}).encode()
    header += b" " * (90 * 2**20 - len(header))  # under safetensors' own 100 MB limit
    (tmp / "padded.lf").write_bytes(struct.pack("<Q", len(header)) + header)
    files["90 MB header of spaces"] = tmp / "padded.lf"

    save_file(arrays, str(tmp / "deep.lf"), metadata={**meta, "state": "[" * 10**6 + "]" * 10**6})
    files["state nested 1e6 deep"] = tmp / "deep.lf"

    bomb = tmp / "bomb.lfm"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("cpt_.npy", "w", force_zip64=True) as member:
            chunk = bytes(2**24)
            for _ in range(3 * 2**30 // len(chunk)):
                member.write(chunk)
        zf.writestr("metadata.json", json.dumps({"format": "labelfuse-model", "format_version": 1}))
    files[f"legacy zip, 3 GiB of zeros in {bomb.stat().st_size / 2**20:.1f} MB"] = bomb

    try:
        from labelfuse.endmodels.adapter import Adapter

        X = np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32)
        ad = Adapter(hidden=(16,), max_epochs=1, progress=False).fit(X, np.eye(2)[np.arange(64) % 2])
        path = ad.save(tmp / "adapter.lf")
        with safe_open(str(path), "numpy") as f:
            m2, a2 = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
        state = json.loads(m2["state"])
        state["fitted"]["input_dim_"] = 300_000_000
        save_file(a2, str(tmp / "wide.lf"), metadata={**m2, "state": json.dumps(state)})
        files["Adapter with input_dim_ 3e8"] = tmp / "wide.lf"
    except ImportError:
        pass

    print(f"{'file':44s} {'peak RSS MB':>11s}  outcome")
    for name, path in files.items():
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True)
        rss, _, outcome = out.stdout.strip().partition("\t")
        print(f"{name:44s} {rss:>11s}  {outcome or out.stderr[-200:]}", flush=True)


if __name__ == "__main__":
    main()
