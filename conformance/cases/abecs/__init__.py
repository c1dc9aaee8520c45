"""Conformance cases of the ABECS pinpad protocol (mpos-bridge.md §4), device under test."""
