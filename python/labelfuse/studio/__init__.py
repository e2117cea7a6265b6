"""The live LF studio: a local web page over a :class:`labelfuse.Workspace` where one writes keyword, regex or
Python LFs and sees at once their coverage, overlaps, conflicts and dev accuracy, samples of rows, nearest neighbours,
the label model's dev accuracy before and after each edit, and plots; with undo and export.

Start it with ``labelfuse studio DATA [--lfs my_lfs.py]`` (needs ``pip install 'labelfuse[studio]'``), or from
Python::

    from labelfuse.studio import serve
    serve(ws)             # prints http://127.0.0.1:PORT/?token=...

It binds 127.0.0.1 unless told otherwise, and every request needs the printed token (:mod:`.security`).
"""
from .server import Studio, create_app
from .runner import BackgroundStudio, serve

__all__ = ["BackgroundStudio", "Studio", "create_app", "serve"]
