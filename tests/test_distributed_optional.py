"""labelfuse works without dask; labelfuse.distributed says what to install."""
import subprocess
import sys

CODE = """
import sys
sys.modules["dask"] = None          # as if dask were not installed
sys.modules["distributed"] = None
import labelfuse
try:
    labelfuse.distributed
except ImportError as exc:
    assert "labelfuse[dask]" in str(exc), exc
else:
    raise AssertionError("labelfuse.distributed imported without dask")
print("ok")
"""


def test_import_without_dask():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
