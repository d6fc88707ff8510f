"""Cheap argon2 parameters for the suite and the benchmarks' setup (they create thousands
of users). Kept outside the application: a release has no switch that weakens its
hashing (ASVS 15.2.3)."""

from __future__ import annotations

from argon2 import PasswordHasher

from app.auth import passwords


def use_fast_hashing() -> None:
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    passwords._dummy_hash = None
