"""Conformance cases, one folder per protocol (``abecs``, ``mpos``, ``p3``, ...)."""
