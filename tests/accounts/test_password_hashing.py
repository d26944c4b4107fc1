"""The argon2 cost comes from the settings: the app hashes (and rehashes) at that cost."""

from __future__ import annotations

import argon2
from sqlalchemy import select

from orbitflow.accounts.models import User
from orbitflow.accounts.passwords import hash_password
from orbitflow.app import make_app
from support import PASSWORD, login

DEFAULTS = argon2.profiles.get_default_parameters()


def _cost(password_hash: str) -> str:
    return password_hash.split("$")[3]


def test_the_tests_hash_at_the_cost_their_settings_give(wsgi_app):
    assert _cost(hash_password("any-password-1")) == "m=8,t=1,p=1"


def test_an_app_without_cost_settings_hashes_at_the_library_defaults(backend):
    ini = {k: v for k, v in backend.ini().items() if not k.startswith("orbitflow.password_")}
    make_app(ini, environ={}, engine=backend.engine)
    expected = f"m={DEFAULTS.memory_cost},t={DEFAULTS.time_cost},p={DEFAULTS.parallelism}"
    assert _cost(hash_password("any-password-1")) == expected


def test_a_hash_of_another_cost_still_signs_in_and_is_rehashed_at_the_current_cost(
    testapp, make_company, make_user, db
):
    default_cost_hash = argon2.PasswordHasher().hash(PASSWORD)
    user = make_user(make_company(), "OWNER", password_hash=default_cost_hash)
    login(testapp, user, status=303)
    db.expire_all()
    stored = db.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored != default_cost_hash
    assert _cost(stored) == "m=8,t=1,p=1"
