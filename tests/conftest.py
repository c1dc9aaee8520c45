"""Shared test configuration: pytester runs small case files in the engine tests."""

pytest_plugins = ["pytester"]
