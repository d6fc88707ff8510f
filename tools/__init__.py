"""Maintenance scripts for the supply chain, standard library only.

Run them from the repository root as modules (`python -m tools.dependency_audit`), so
they share `tools.pins` and `tools.registry`; CI and the Makefile do.
"""
