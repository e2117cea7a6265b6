"""n_threads="auto": one torch thread on the CPU for small networks, only for the call (torch's setting is
process-wide, so the caller's count must come back unchanged)."""
import numpy as np
import torch

from labelfuse.endmodels import Adapter
from labelfuse.endmodels._networks import MultiTaskNet
from labelfuse.endmodels._training import SMALL_BATCH_WORK, threads_for


def test_auto_picks_one_thread_for_small_cpu_networks_only():
    small = torch.nn.Linear(384, 2)
    big = torch.nn.Linear(4096, 4096)
    cpu = torch.device("cpu")
    assert threads_for("auto", small, 256, cpu) == 1
    assert sum(p.numel() for p in big.parameters()) * 256 >= SMALL_BATCH_WORK
    assert threads_for("auto", big, 256, cpu) is None
    assert threads_for("auto", small, 256, torch.device("cuda")) is None
    assert threads_for(3, small, 256, cpu) == 3 and threads_for(None, small, 256, cpu) is None


def test_fit_and_predict_with_auto_threads_leave_torchs_setting_as_it_was(monkeypatch):
    before = torch.get_num_threads()
    seen = []
    forward = MultiTaskNet.forward

    def spy(self, x, heads=None):  # records the thread count torch has while the network runs
        seen.append(torch.get_num_threads())
        return forward(self, x, heads)

    monkeypatch.setattr(MultiTaskNet, "forward", spy)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    model = Adapter(hidden=(8,), max_epochs=2, device="cpu", progress=False, random_state=0).fit(X, y)
    assert torch.get_num_threads() == before
    model.predict_proba(X)
    assert torch.get_num_threads() == before
    assert seen and set(seen) == {1}
