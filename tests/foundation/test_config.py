"""Configuration: the seed's environment variables, and one clear line for each bad value.

The start-up checks run the console scripts as operators do (``pserve production.ini``,
``initializedb production.ini``) in processes with an environment the test controls.
"""

from __future__ import annotations

import argon2
import pytest
from sqlalchemy import event

from foundation.helpers import (
    ROOT,
    TEST_SECRET,
    base_env,
    env_without_module,
    free_port,
    nonblank_lines,
    run,
)
from orbitflow.config import ConfigError, PasswordHashing, load_settings, parse_database_url
from orbitflow.db import make_engine

PRODUCTION_INI = ROOT / "production.ini"
DB_PASSWORD = "Hunter2-never-print-me"

# name: (environment changes, words the one line must contain, secrets it must not contain)
BAD_VALUES = {
    "missing AUTH_SECRET": ({"AUTH_SECRET": None}, ["AUTH_SECRET", "required"], []),
    "short AUTH_SECRET": (
        {"AUTH_SECRET": "short-secret-Xq9"},
        ["AUTH_SECRET", "at least 32 characters"],
        ["short-secret-Xq9"],
    ),
    "AUTH_URL with a trailing slash": ({"AUTH_URL": "https://crm.example.com/"}, ["AUTH_URL", "slash"], []),
    "AUTH_URL with a path": ({"AUTH_URL": "https://crm.example.com/crm"}, ["AUTH_URL", "path"], []),
    "AUTH_URL over http in production": ({"AUTH_URL": "http://crm.example.com"}, ["AUTH_URL", "https"], []),
    "unknown plugin": (
        {"ORBITFLOW_PLUGINS": "quiz pixles"},
        ["'pixles'", "installed:", "quiz", "pixels", "analytics"],
        [],
    ),
    "non-numeric DB_POOL_SIZE": ({"DB_POOL_SIZE": "twenty"}, ["DB_POOL_SIZE", "whole number"], []),
    "unknown time zone": ({"TZ": "Mars/Olympus"}, ["TZ", "IANA"], []),
    "DATABASE_URL of another database": (
        {"DATABASE_URL": f"postgres://orbit:{DB_PASSWORD}@db.example.com/orbitflow"},
        ["DATABASE_URL", "mysql://"],
        [DB_PASSWORD],
    ),
}

COMMANDS = {
    "pserve": ["pserve", PRODUCTION_INI],
    "initializedb": ["initializedb", PRODUCTION_INI, "--username", "admin", "--password", "Long-enough-pass-1"],
}


@pytest.fixture
def good_env(tmp_path):
    return base_env(
        tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path / 'orbitflow.sqlite'}",
        AUTH_SECRET=TEST_SECRET,
        AUTH_URL="https://crm.example.com",
        # Should a bad value slip through, pserve must not take a well-known port.
        PORT=str(free_port()),
    )


def assert_one_clear_line(result, words: list[str], secrets: list[str]) -> str:
    lines = nonblank_lines(result.stderr)
    assert result.returncode != 0
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("orbitflow: configuration error: "), line
    for word in words:
        assert word in line
    for secret in [TEST_SECRET, *secrets]:
        assert secret not in result.stderr
        assert secret not in result.stdout
    return line


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", BAD_VALUES)
def test_bad_value_stops_start_up_with_one_clear_line(command, case, good_env, tmp_path):
    changes, words, secrets = BAD_VALUES[case]
    env = {**good_env, **{k: v for k, v in changes.items() if v is not None}}
    for key in (k for k, v in changes.items() if v is None):
        env.pop(key)
    result = run(COMMANDS[command], env, cwd=tmp_path, timeout=60)
    assert_one_clear_line(result, words, secrets)
    assert not (tmp_path / "orbitflow.sqlite").exists() or command == "pserve"


@pytest.mark.parametrize("command", COMMANDS)
def test_mariadb_url_without_the_driver_says_what_to_install(command, good_env, tmp_path):
    closed_port = free_port()
    url = f"mysql://orbit:{DB_PASSWORD}@127.0.0.1:{closed_port}/orbitflow"
    env = env_without_module({**good_env, "DATABASE_URL": url}, tmp_path, "mariadb")
    result = run(COMMANDS[command], env, cwd=tmp_path, timeout=60)
    line = assert_one_clear_line(result, ["DATABASE_URL", "pip install 'orbitflow[mariadb]'"], [DB_PASSWORD])
    assert "MariaDB" in line


def test_with_the_driver_the_same_url_gets_past_the_driver_check(good_env, tmp_path):
    """The control for the test above: what refused start-up there was the missing driver."""
    url = f"mysql://orbit:{DB_PASSWORD}@127.0.0.1:{free_port()}/orbitflow"
    result = run(COMMANDS["initializedb"], {**good_env, "DATABASE_URL": url}, cwd=tmp_path, timeout=60)
    lines = nonblank_lines(result.stderr)
    assert result.returncode != 0
    assert lines[-1].startswith("orbitflow: cannot reach the database: "), result.stderr
    assert "pip install" not in result.stderr
    assert DB_PASSWORD not in result.stderr + result.stdout


def test_a_bad_port_stops_pserve_with_one_line(good_env, tmp_path):
    result = run(COMMANDS["pserve"], {**good_env, "PORT": "http"}, cwd=tmp_path, timeout=60)
    assert_one_clear_line(result, ["PORT", "1 to 65535"], [])


# Unit tests of the parsing itself.


def settings(**env: str):
    ini = {"orbitflow.production": "true", "orbitflow.plugins": "quiz"}
    base = {
        "DATABASE_URL": "sqlite:///:memory:",
        "AUTH_SECRET": TEST_SECRET,
        "AUTH_URL": "https://crm.example.com",
    }
    return load_settings(ini, {**base, **env})


def test_seed_database_url_with_an_encoded_password():
    url, connect_args = parse_database_url("DATABASE_URL", "mysql://user:p%40ss@host:3306/db")
    assert url.drivername == "mariadb+mariadbconnector"
    assert (url.username, url.password, url.host, url.port, url.database) == ("user", "p@ss", "host", 3306, "db")
    assert connect_args == {}


def test_ssl_query_becomes_a_driver_connect_argument():
    config = settings(DATABASE_URL="mysql://user:p%40ss@db.example.com:3306/crm?ssl=true", DB_POOL_SIZE="7")
    assert config.database.connect_args == {"ssl": True}
    assert not config.database.url.query
    assert config.database.pool_size == 7
    # What the engine would hand to mariadb.connect(): captured at the connect event.
    engine = make_engine(config.database)
    seen = {}

    @event.listens_for(engine, "do_connect")
    def capture(dialect, conn_rec, cargs, cparams):
        seen.update(cparams)
        raise ConnectionAbortedError("captured")

    with pytest.raises(Exception, match="captured"):
        engine.connect()
    assert seen["ssl"] is True
    assert seen["password"] == "p@ss"
    assert seen["username"] == "user"
    assert seen["database"] == "crm"
    assert (seen["connect_timeout"], seen["read_timeout"], seen["write_timeout"]) == (5, 60, 60)
    assert engine.pool.size() == 7


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ssl=false", {"ssl": False}),
        ("sslaccept=strict", {"ssl": True, "ssl_verify_cert": True}),
        ("ssl_ca=/etc/ssl/ca.pem", {"ssl": True, "ssl_ca": "/etc/ssl/ca.pem"}),
        (
            "connect_timeout=3&read_timeout=30&write_timeout=20",
            {"connect_timeout": 3, "read_timeout": 30, "write_timeout": 20},
        ),
    ],
)
def test_other_ssl_options(query, expected):
    assert parse_database_url("DATABASE_URL", f"mysql://u:p@h/db?{query}")[1] == expected


@pytest.mark.parametrize("auth_url", ["http://localhost:3000", "http://127.0.0.1:6543", "https://crm.example.com"])
def test_http_is_allowed_for_localhost_in_production(auth_url):
    assert settings(AUTH_URL=auth_url).auth_url == auth_url


def test_http_is_allowed_anywhere_outside_production():
    config = load_settings(
        {"orbitflow.production": "false"},
        {"DATABASE_URL": "sqlite://", "AUTH_SECRET": TEST_SECRET, "AUTH_URL": "http://crm.internal"},
    )
    assert config.auth_url == "http://crm.internal"
    assert not config.secure_cookies


def test_the_secret_is_not_in_the_settings_repr():
    config = load_settings(
        {"orbitflow.auth_secret": TEST_SECRET, "sqlalchemy.url": "mysql://u:s3cr3t-pw@h/db"}, environ={}
    )
    assert TEST_SECRET not in repr(config)
    assert "s3cr3t-pw" not in repr(config)


def test_environment_overrides_the_ini_and_seed_aliases_are_read():
    config = settings(
        NEXT_PUBLIC_FACEBOOK_PIXEL_ID="123456789012345",
        TIKTOK_PIXEL_ID="C0TIKTOKPIXEL12345",
        ORBITFLOW_PLUGINS="pixels, quiz",
        AUTH_TRUST_HOST="true",
        DB_POOL_SIZE="",
    )
    assert config.facebook_pixel_id == "123456789012345"
    assert config.tiktok_pixel_id == "C0TIKTOKPIXEL12345"
    assert config.plugins == ("pixels", "quiz")
    assert config.trust_host is True
    assert config.database.pool_size == 20


def test_the_seed_name_of_the_tiktok_pixel_is_read_and_the_plain_name_wins():
    assert settings(NEXT_PUBLIC_TIKTOK_PIXEL_ID="C4ABCDEFGHIJ12345678").tiktok_pixel_id == "C4ABCDEFGHIJ12345678"
    both = settings(TIKTOK_PIXEL_ID="C4PLAINNAME000000001", NEXT_PUBLIC_TIKTOK_PIXEL_ID="C4ABCDEFGHIJ12345678")
    assert both.tiktok_pixel_id == "C4PLAINNAME000000001"
    assert settings(FACEBOOK_PIXEL_ID="", NEXT_PUBLIC_FACEBOOK_PIXEL_ID=" 1234567890123456 ").facebook_pixel_id == (
        "1234567890123456"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        # The rules of Settings → Pixels (one definition, orbitflow.pixel_ids).
        ({"FACEBOOK_PIXEL_ID": "1234567890"}, "FACEBOOK_PIXEL_ID must be a Meta pixel id (15 or 16 digits)"),
        (
            {"NEXT_PUBLIC_FACEBOOK_PIXEL_ID": "12345678901234a"},
            "NEXT_PUBLIC_FACEBOOK_PIXEL_ID must be a Meta pixel id (15 or 16 digits)",
        ),
        (
            {"TIKTOK_PIXEL_ID": "c4abcdefghij12345678"},
            "TIKTOK_PIXEL_ID must be a TikTok pixel code (15 to 30 capital letters and digits)",
        ),
        (
            {"NEXT_PUBLIC_TIKTOK_PIXEL_ID": "C0TIKTOK"},
            "NEXT_PUBLIC_TIKTOK_PIXEL_ID must be a TikTok pixel code (15 to 30 capital letters and digits)",
        ),
        ({"DB_POOL_SIZE": "0"}, "DB_POOL_SIZE must be at least 1"),
        ({"AUTH_TRUST_HOST": "maybe"}, "AUTH_TRUST_HOST must be true or false"),
        ({"DATABASE_URL": "mysql://u:p@h:port/db"}, "DATABASE_URL has a port that is not a number"),
        ({"DATABASE_URL": "mysql://u:p@h:3306/"}, "DATABASE_URL must name the database"),
        ({"DATABASE_URL": "mysql://u:p@h/db?charset=latin1"}, "DATABASE_URL has an unknown option 'charset'"),
        ({"AUTH_URL": "crm.example.com"}, "AUTH_URL must be an absolute http(s) URL"),
        ({"AUTH_URL": "https://crm.example.com?x=1"}, "AUTH_URL must be the site's origin only"),
    ],
)
def test_more_bad_values(env, message):
    with pytest.raises(ConfigError) as raised:
        settings(**env)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("count", ["zero", "0", "65"])
def test_a_bad_worker_count_stops_pserve_with_one_line(count, good_env, tmp_path):
    result = run(COMMANDS["pserve"], {**good_env, "WEB_CONCURRENCY": count}, cwd=tmp_path, timeout=60)
    assert_one_clear_line(result, ["WEB_CONCURRENCY", "1 to 64", repr(count)], [])


# INI settings that requests use: each is parsed at start-up, so a bad one is one line.
BAD_INI_VALUES = {
    "quiz.min_fill_seconds": ("soon", ["quiz.min_fill_seconds", "whole number"]),
    "orbitflow.leads.import_max_bytes": ("2MB", ["orbitflow.leads.import_max_bytes", "whole number"]),
    "orbitflow.default_phone_region": ("Narnia", ["orbitflow.default_phone_region", "two-letter"]),
    "quiz.ratelimit.view": ("lots", ["quiz.ratelimit.view", "20/minute"]),
}


@pytest.mark.parametrize("name", BAD_INI_VALUES)
def test_a_bad_ini_setting_used_by_requests_stops_pserve_with_one_line(name, good_env, tmp_path):
    value, words = BAD_INI_VALUES[name]
    ini = tmp_path / "production.ini"
    ini.write_text(PRODUCTION_INI.read_text().replace("[app:main]\n", f"[app:main]\n{name} = {value}\n", 1))
    result = run(["pserve", ini], good_env, cwd=tmp_path, timeout=60)
    assert_one_clear_line(result, words, [])


def test_ini_settings_used_by_requests_are_typed_once():
    parsed = settings(**{})
    assert (parsed.import_max_bytes, parsed.default_phone_region) == (2 * 1024 * 1024, "US")
    ini = {"sqlalchemy.url": "sqlite://", "orbitflow.auth_secret": TEST_SECRET}
    custom = load_settings(
        {**ini, "orbitflow.leads.import_max_bytes": "4096", "orbitflow.default_phone_region": " de "}, environ={}
    )
    assert (custom.import_max_bytes, custom.default_phone_region) == (4096, "DE")


def test_requests_reach_shared_objects_by_type_not_by_string():
    """Start-up code provides shared objects with orbitflow.shared.provide; nothing looks
    one up by a string key, so a misspelt name cannot wait for a visitor to fail."""
    import re

    pattern = re.compile(r"registry(\.get\(|\[)\s*['\"]")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("src", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_prisma_pool_options_of_the_original_url_set_the_pool_and_time_outs():
    """A DATABASE_URL written for the original carries Prisma's options; they map to the
    pool size, the wait for a free connection and the driver's socket time-outs."""
    url = "mysql://user:pw@db:3306/crm?connection_limit=7&pool_timeout=3&socket_timeout=25&connect_timeout=4"
    config = settings(DATABASE_URL=url, DB_POOL_SIZE="")
    assert config.database.pool_size == 7
    assert config.database.pool_timeout == 3
    assert config.database.connect_args == {"read_timeout": 25, "write_timeout": 25, "connect_timeout": 4}
    engine = make_engine(config.database)
    seen = {}

    @event.listens_for(engine, "do_connect")
    def capture(dialect, conn_rec, cargs, cparams):
        seen.update(cparams)
        raise ConnectionAbortedError("captured")

    with pytest.raises(Exception, match="captured"):
        engine.connect()
    assert (seen["connect_timeout"], seen["read_timeout"], seen["write_timeout"]) == (4, 25, 25)
    assert "connection_limit" not in seen and "pool_timeout" not in seen
    assert engine.pool.size() == 7
    assert engine.pool.timeout() == 3
    # DB_POOL_SIZE, when set, is the operator's last word.
    assert settings(DATABASE_URL=url, DB_POOL_SIZE="12").database.pool_size == 12
    # Without them: the defaults.
    plain = settings(DATABASE_URL="mysql://user:pw@db:3306/crm", DB_POOL_SIZE="")
    assert (plain.database.pool_size, plain.database.pool_timeout) == (20, 10)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("connection_limit=0", "DATABASE_URL connection_limit must be at least 1, got 0"),
        ("pool_timeout=soon", "DATABASE_URL pool_timeout must be a whole number, got 'soon'"),
        ("socket_timeout=-1", "DATABASE_URL socket_timeout must be at least 1, got -1"),
    ],
)
def test_bad_prisma_pool_options_stop_start_up_with_one_line(query, message):
    with pytest.raises(ConfigError) as caught:
        settings(DATABASE_URL=f"mysql://user:pw@db:3306/crm?{query}")
    assert str(caught.value) == message


# The cost of password hashing.


def test_password_hashing_is_the_library_default_unless_the_ini_says_otherwise():
    defaults = argon2.profiles.get_default_parameters()
    assert settings().password_hashing == PasswordHashing(
        defaults.time_cost, defaults.memory_cost, defaults.parallelism
    )
    outside_production = load_settings(
        {
            "orbitflow.password_time_cost": "1",
            "orbitflow.password_memory_kib": "16",
            "orbitflow.password_parallelism": "2",
        },
        {"DATABASE_URL": "sqlite://", "AUTH_SECRET": TEST_SECRET},
    )
    assert outside_production.password_hashing == PasswordHashing(time_cost=1, memory_kib=16, parallelism=2)


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("orbitflow.password_time_cost", "1", ["orbitflow.password_time_cost", "argon2 default 3", "production"]),
        ("orbitflow.password_memory_kib", "1024", ["orbitflow.password_memory_kib", "argon2 default 65536"]),
        ("orbitflow.password_parallelism", "1", ["orbitflow.password_parallelism", "argon2 default 4"]),
        ("orbitflow.password_time_cost", "cheap", ["orbitflow.password_time_cost", "whole number"]),
        ("orbitflow.password_memory_kib", "4", ["orbitflow.password_memory_kib", "at least 8"]),
        ("orbitflow.password_memory_kib", "65536 KiB", ["orbitflow.password_memory_kib", "whole number"]),
    ],
)
def test_a_cheaper_or_bad_hashing_cost_is_refused_in_production(name, value, words):
    with pytest.raises(ConfigError) as refused:
        load_settings(
            {"orbitflow.production": "true", name: value},
            {"DATABASE_URL": "sqlite://", "AUTH_SECRET": TEST_SECRET, "AUTH_URL": "https://crm.example.com"},
        )
    for word in words:
        assert word in str(refused.value)


def test_memory_below_eight_kib_a_lane_is_refused_anywhere():
    with pytest.raises(ConfigError, match=r"orbitflow.password_memory_kib must be at least 8 x .* \(32\), got 16"):
        load_settings(
            {"orbitflow.password_memory_kib": "16", "orbitflow.password_parallelism": "4"},
            {"DATABASE_URL": "sqlite://", "AUTH_SECRET": TEST_SECRET},
        )


def test_pserve_refuses_test_hashing_costs_in_production(good_env, tmp_path):
    ini = tmp_path / "production.ini"
    ini.write_text(
        PRODUCTION_INI.read_text().replace("[app:main]\n", "[app:main]\norbitflow.password_memory_kib = 1024\n", 1)
    )
    result = run(["pserve", ini], good_env, cwd=tmp_path, timeout=60)
    assert_one_clear_line(result, ["orbitflow.password_memory_kib", "argon2 default 65536", "production"], [])


def test_redis_url_shares_the_rate_limit_counters():
    assert settings(REDIS_URL="redis://cache:6379/0").ratelimit_storage == "redis://cache:6379/0"
    assert settings().ratelimit_storage == "memory://"
    with pytest.raises(ConfigError) as caught:
        settings(REDIS_URL="cache:6379")
    assert str(caught.value) == "REDIS_URL must be a URL like redis://redis:6379/0 (or rediss:// for TLS)"
