"""Fixtures for the review app's tests: a demo database (built once, copied per test) and users."""

from __future__ import annotations

import shutil

import pytest
from argon2 import PasswordHasher

from evalkit.review.auth import Auth, User
from evalkit.store import Store

from .apptest_util import APP, PW
from .demo_db import RUN_A, RUN_B, build_demo_db

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
USERS = (("dr.ada", "clinician"), ("dr.bob", "clinician"), ("dr.cy", "clinician"), ("eng", "engineer"),
         ("root", "admin"))


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("demo-template")
    info = build_demo_db(d / "review.duckdb")
    auth = Auth(info["store"], hasher=FAST)
    for name, role in USERS:
        auth.add_user(name, role, PW)
    info.pop("store")
    return {"dir": d, **info}


@pytest.fixture
def demo(demo_template, tmp_path) -> dict:
    """A fresh copy of the demo database (with its audio) for one test."""
    d = tmp_path / "demo"
    shutil.copytree(demo_template["dir"], d)
    store = Store(d / "review.duckdb")
    return {**demo_template, "dir": d, "db": d / "review.duckdb", "store": store,
            "auth": Auth(store, hasher=FAST)}


@pytest.fixture
def clinician() -> User:
    return User("dr.ada", "clinician")


@pytest.fixture
def engineer() -> User:
    return User("eng", "engineer")


@pytest.fixture
def admin() -> User:
    return User("root", "admin")


__all__ = ["APP", "PW", "RUN_A", "RUN_B"]
