"""The benchmark suite behind ``labelfuse bench``: every method on every data set against the installed peer
libraries (:mod:`.suite`), the scaling harness (:mod:`.scaling`) and the peer wrappers (:mod:`.peers`).

Not imported by ``import labelfuse``: it pulls in fusion, torch and the peers when run.
"""
