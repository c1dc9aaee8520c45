"""Mutation testing of the reference servers against their own conformance cases.

The suite is the product: a vendor trusts a green run only if a broken server turns it
red. ``python -m conformance.mutants`` (``nox -s mutants``) measures that. Cosmic Ray's
operators write each mutant (one flipped comparison, swapped ``and``/``or``, changed
constant, emptied loop, ...); this package samples them per package with a seed, runs
each one in a private copy of the tree against the conformance cases of its protocol
that execute the mutated line in a clean run (``cover.py``, ``select.py``), and prints
the kill rate per package and every survivor. Mutants that cannot change
behaviour are listed with the reason in ``equivalents.toml`` and leave the rate,
visibly.
"""
