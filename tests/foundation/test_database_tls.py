"""``DATABASE_URL=…?sslmode=require``: an encrypted connection or none.

The test machine's MariaDB offers no TLS, so ``require`` must fail there, with a line that
names DATABASE_URL and the option, while ``prefer`` and no option connect in plain text.
A private MariaDB server with a certificate shows that ``require`` connects, encrypted,
where TLS is offered."""

from __future__ import annotations

import pytest
import trustme
import webtest
from sqlalchemy import text

from foundation.helpers import REQUIRE_MARIADB, nonblank_lines
from foundation.mariadb_server import PrivateMariaDB
from foundation.test_initializedb import initializedb, table_names
from orbitflow.app import make_app
from orbitflow.config import ConfigError, load_settings, parse_database_url, tls_required_by
from orbitflow.db import UnencryptedDatabaseConnection, make_engine

TEST_SECRET = "tls-test-secret-0123456789-0123456789"


def engine_for(url: str):
    settings = load_settings({"orbitflow.auth_secret": TEST_SECRET}, environ={"DATABASE_URL": url})
    return make_engine(settings.database, pool_size=1)


@pytest.mark.parametrize(
    ("query", "demanded"),
    [
        ("", None),
        ("?sslmode=prefer", None),
        ("?sslmode=disable", None),
        ("?ssl=false", None),
        ("?sslmode=require", "sslmode=require"),
        ("?sslmode=REQUIRED", "sslmode=REQUIRED"),
        ("?sslmode=verify-full", "sslmode=verify-full"),
        ("?ssl=true", "ssl=true"),
        ("?sslaccept=strict", "sslaccept=strict"),
        ("?connection_limit=5&sslmode=require", "sslmode=require"),
    ],
)
def test_which_url_options_demand_tls(query, demanded):
    assert tls_required_by(f"mysql://u:p@db.example.com:3306/crm{query}") == demanded


def test_an_unknown_sslmode_stops_start_up():
    with pytest.raises(ConfigError, match="DATABASE_URL sslmode must be disable, prefer, require"):
        parse_database_url("DATABASE_URL", "mysql://u:p@db.example.com/crm?sslmode=sometimes")


@pytest.mark.mariadb_only
@pytest.mark.parametrize("query", ["?sslmode=require", "?ssl=true", "?sslmode=required&connect_timeout=3"])
def test_require_refuses_a_server_without_tls(new_mariadb_database, query):
    url = new_mariadb_database()
    engine = engine_for(url + query)
    try:
        with pytest.raises(UnencryptedDatabaseConnection) as refused, engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    message = str(refused.value)
    assert message.startswith("DATABASE_URL asks for an encrypted connection (" + query.split("&")[0][1:] + ")")
    assert "127.0.0.1:3306 answered without TLS" in message


@pytest.mark.mariadb_only
@pytest.mark.parametrize("query", ["", "?sslmode=prefer", "?sslmode=disable"])
def test_prefer_or_no_option_still_connects(new_mariadb_database, query):
    engine = engine_for(new_mariadb_database() + query)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
            cipher = connection.execute(text("SHOW SESSION STATUS LIKE 'Ssl_cipher'")).one()[1]
    finally:
        engine.dispose()
    assert cipher == ""  # plain text, as the server offers nothing else


@pytest.mark.mariadb_only
def test_initializedb_stops_with_one_line_naming_the_setting(new_mariadb_database, tmp_path):
    url = new_mariadb_database()
    result = initializedb(url + "?sslmode=require", tmp_path, "--demo")
    assert result.returncode != 0
    assert len(nonblank_lines(result.stderr)) == 1, result.stderr
    [line] = nonblank_lines(result.stderr)
    assert line.startswith("orbitflow: cannot reach the database: UnencryptedDatabaseConnection: DATABASE_URL")
    assert "sslmode=require" in line and "without TLS" in line
    assert table_names(url) == set()


@pytest.mark.mariadb_only
def test_the_app_answers_503_on_health_and_never_talks_in_plain_text(new_mariadb_database):
    url = new_mariadb_database()
    app = make_app(
        {
            "orbitflow.auth_secret": TEST_SECRET,
            "orbitflow.auth_url": "http://localhost",
            "orbitflow.deliveries.worker_thread": "false",
        },
        environ={"DATABASE_URL": url + "?sslmode=require"},
    )
    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})
    health = client.get("/api/health", status=503)
    assert health.json["status"] == "error"


@pytest.fixture(scope="module")
def tls_mariadb(tmp_path_factory):
    """A MariaDB server of its own that offers TLS with a certificate for 127.0.0.1."""
    if not PrivateMariaDB.available():
        message = "mariadbd and mariadb-install-db are needed to run a private MariaDB server"
        if REQUIRE_MARIADB:
            pytest.fail(message)
        pytest.skip(message)
    base = tmp_path_factory.mktemp("mariadbd-tls")
    certificate = trustme.CA().issue_cert("127.0.0.1")
    chain, key = base / "server.pem", base / "server.key"
    certificate.private_key_pem.write_to_path(str(key))
    with open(chain, "wb") as handle:
        for blob in certificate.cert_chain_pems:
            handle.write(blob.bytes())
    server = PrivateMariaDB(base, (f"--ssl-cert={chain}", f"--ssl-key={key}"))
    server.install()
    server.start()
    server.execute("CREATE DATABASE orbitflow CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    yield server
    server.stop()


@pytest.mark.slow
@pytest.mark.mariadb_only
@pytest.mark.parametrize("query", ["?sslmode=require", "?ssl=true"])
def test_require_connects_encrypted_where_the_server_offers_tls(tls_mariadb, query):
    engine = engine_for(f"{tls_mariadb.server_url}/orbitflow{query}")
    try:
        with engine.connect() as connection:
            cipher = connection.execute(text("SHOW SESSION STATUS LIKE 'Ssl_cipher'")).one()[1]
    finally:
        engine.dispose()
    assert cipher  # e.g. TLS_AES_256_GCM_SHA384


def test_the_replica_url_keeps_its_own_options_and_tls_demand():
    settings = load_settings(
        {"orbitflow.auth_secret": TEST_SECRET},
        environ={
            "DATABASE_URL": "mysql://u:p@primary.example.com/crm?connect_timeout=7",
            "DATABASE_REPLICA_URL": "mysql://r:p@replica.example.com/crm?connect_timeout=2&sslmode=require"
            "&connection_limit=4",
        },
    ).database
    assert settings.connect_args == {"connect_timeout": 7} and settings.tls_required_by is None
    replica = settings.replica
    assert replica.url.host == "replica.example.com" and replica.url.username == "r"
    assert replica.connect_args == {"connect_timeout": 2, "ssl": True}
    assert replica.tls_required_by == "sslmode=require" and replica.variable == "DATABASE_REPLICA_URL"
    assert replica.pool_size == 4 and settings.pool_size != 4
    # The other way round: the primary's demand for TLS is not the replica's.
    settings = load_settings(
        {"orbitflow.auth_secret": TEST_SECRET},
        environ={
            "DATABASE_URL": "mysql://u:p@primary.example.com/crm?sslmode=require",
            "DATABASE_REPLICA_URL": "mysql://r:p@replica.example.com/crm",
        },
    ).database
    assert settings.tls_required_by == "sslmode=require"
    assert settings.replica.tls_required_by is None and settings.replica.connect_args == {}
    assert settings.replica.pool_size == settings.pool_size


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?sslmode=sometimes", "DATABASE_REPLICA_URL sslmode must be disable, prefer, require"),
        ("?timeout=3", "DATABASE_REPLICA_URL has an unknown option 'timeout'"),
        ("?connect_timeout=soon", "DATABASE_REPLICA_URL connect_timeout must be"),
        ("?connection_limit=0", "DATABASE_REPLICA_URL connection_limit must be"),
    ],
)
def test_a_bad_replica_url_option_stops_start_up(query, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(
            {"orbitflow.auth_secret": TEST_SECRET},
            environ={"DATABASE_URL": "mysql://u:p@db/crm", "DATABASE_REPLICA_URL": f"mysql://r:p@replica/crm{query}"},
        )
