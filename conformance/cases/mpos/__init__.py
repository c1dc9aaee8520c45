"""Conformance cases of the Pagar.me mpos-bridge protocol (mpos-bridge.md §2)."""
