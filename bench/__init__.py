"""Ruta's performance benchmarks (see bench/README.md). Not part of the app or the tests."""
