"""Cases for the world itself: what every protocol's cases rely on.

Ids are ``world/<section>/<n>`` with the section of ARCHITECTURE.md's rules they
check: 1 "The same case runs everywhere" is not here (the protocols show it),
2 "Deterministic", 3 "No card data in clear", 4 faults recorded in the history.
"""
