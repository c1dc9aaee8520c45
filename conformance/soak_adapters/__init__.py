"""Soak adapters, one module per server (see :mod:`conformance.soak` for the interface).

Each module registers its adapter with :func:`conformance.soak.adapter` when imported;
the soak imports the one it is asked for. They live here, in the conformance layer,
because they drive the servers from above: a server package never imports the suite.
"""
