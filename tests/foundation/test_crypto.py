"""Values encrypted at rest: ENCRYPTION_KEY's Fernet keys (the first encrypts, all decrypt),
or a key derived from AUTH_SECRET; a malformed key stops start-up with one line."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from foundation.helpers import TEST_SECRET, base_env, free_port, nonblank_lines, run
from foundation.test_config import PRODUCTION_INI
from orbitflow.config import ConfigError, load_settings
from orbitflow.crypto import Encryptor, Undecryptable

INI = {"sqlalchemy.url": "sqlite://", "orbitflow.auth_secret": TEST_SECRET}
SECRET_TEXT = "JBSWY3DPEHPK3PXP"


def encryptor_for(**env: str) -> Encryptor:
    return Encryptor(load_settings(INI, env).encryption_keys)


def test_a_value_comes_back_and_is_not_stored_in_clear():
    key = Fernet.generate_key().decode()
    box = encryptor_for(ENCRYPTION_KEY=key)
    token = box.encrypt(SECRET_TEXT)
    assert SECRET_TEXT not in token
    assert box.encrypt(SECRET_TEXT) != token  # a fresh IV each time
    assert box.decrypt(token) == SECRET_TEXT
    # It really is that key's Fernet token: readable with the key alone.
    assert Fernet(key).decrypt(token.encode()).decode() == SECRET_TEXT


def test_rotation_the_new_key_encrypts_and_the_old_one_still_decrypts():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = encryptor_for(ENCRYPTION_KEY=old)
    stored = before.encrypt(SECRET_TEXT)

    after = encryptor_for(ENCRYPTION_KEY=f"{new}, {old}")
    assert after.decrypt(stored) == SECRET_TEXT
    assert not after.is_current(stored)
    fresh = after.encrypt(SECRET_TEXT)
    assert after.is_current(fresh)
    assert Fernet(new).decrypt(fresh.encode()).decode() == SECRET_TEXT
    with pytest.raises(Undecryptable):
        before.decrypt(fresh)  # written with the new key, not the old one

    rotated = after.rotate(stored)
    assert encryptor_for(ENCRYPTION_KEY=new).decrypt(rotated) == SECRET_TEXT
    # Once the old key is dropped, what it alone encrypted cannot be read.
    with pytest.raises(Undecryptable):
        encryptor_for(ENCRYPTION_KEY=new).decrypt(stored)


def test_without_encryption_key_a_key_is_derived_from_auth_secret():
    first = encryptor_for()
    token = first.encrypt(SECRET_TEXT)
    # The same secret gives the same key (another process, a restart)...
    assert encryptor_for().decrypt(token) == SECRET_TEXT
    # ...another secret does not, and the secret itself is not the key.
    other = Encryptor(
        load_settings({**INI, "orbitflow.auth_secret": "another-secret-0123456789-abcdefghij"}, {}).encryption_keys
    )
    with pytest.raises(Undecryptable):
        other.decrypt(token)
    assert TEST_SECRET not in load_settings(INI, {}).encryption_keys[0]


def test_the_ini_setting_is_read_and_the_environment_wins():
    ini_key, env_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    ini = {**INI, "orbitflow.encryption_key": ini_key}
    assert load_settings(ini, {}).encryption_keys == (ini_key,)
    assert load_settings(ini, {"ENCRYPTION_KEY": env_key}).encryption_keys == (env_key,)
    assert ini_key not in repr(load_settings(ini, {}))


# A constant good key: parameters must be the same in every pytest-xdist worker.
FIXED_KEY = "JvYojmFfe83zmwg9QpaE3dP_6i3m5AeIBCM-szibK-Q="


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("not-a-key", ["ENCRYPTION_KEY", "key 1", "Fernet"]),
        (f"{FIXED_KEY},short", ["ENCRYPTION_KEY", "key 2"]),
        (f"{FIXED_KEY},,", ["ENCRYPTION_KEY", "empty key at position 2"]),
    ],
    ids=["not-a-key", "second-key-short", "second-key-empty"],
)
def test_a_malformed_key_is_refused(value, words):
    with pytest.raises(ConfigError) as refused:
        load_settings(INI, {"ENCRYPTION_KEY": value})
    for word in words:
        assert word in str(refused.value)


def test_a_malformed_key_stops_pserve_with_one_clear_line(tmp_path):
    bad = "Zm9vYmFy-not-a-fernet-key-at-all"
    env = base_env(
        tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path / 'orbitflow.sqlite'}",
        AUTH_SECRET=TEST_SECRET,
        AUTH_URL="https://crm.example.com",
        PORT=str(free_port()),
        ENCRYPTION_KEY=bad,
    )
    result = run(["pserve", PRODUCTION_INI], env, cwd=tmp_path, timeout=60)
    lines = nonblank_lines(result.stderr)
    assert result.returncode != 0
    assert lines == [lines[0]], result.stderr
    assert lines[0].startswith("orbitflow: configuration error: ENCRYPTION_KEY key 1 is not a Fernet key")
    assert bad not in result.stderr + result.stdout
    assert TEST_SECRET not in result.stderr + result.stdout


def test_the_application_provides_its_encryptor_by_type(wsgi_app):
    from orbitflow.config import get_settings
    from orbitflow.crypto import encryptor

    box = encryptor(wsgi_app.registry)
    assert isinstance(box, Encryptor)
    assert repr(box) == "<Encryptor>"
    # Made from the application's settings: the key derived from its AUTH_SECRET.
    token = box.encrypt(SECRET_TEXT)
    assert Encryptor(get_settings(wsgi_app.registry).encryption_keys).decrypt(token) == SECRET_TEXT
