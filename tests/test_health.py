"""GET /api/health: the public contract for load balancers and uptime checks."""

from sqlalchemy import text


def test_health_reports_database_and_migrations(testapp):
    response = testapp.get("/api/health", status=200)
    assert response.content_type == "application/json"
    assert response.json["status"] == "ok"
    assert response.json["database"] == "ok"
    assert response.json["migrations"] == "current"
    assert response.json["version"]


def test_health_is_503_when_migrations_are_behind(testapp, backend):
    with backend.engine.begin() as connection:
        heads = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        connection.execute(text("DELETE FROM alembic_version WHERE version_num = :v"), {"v": heads[0]})
    try:
        response = testapp.get("/api/health", status=503)
        assert response.json["status"] == "error"
        assert response.json["database"] == "ok"
        assert response.json["migrations"] in {"pending", "not initialized"}
    finally:
        with backend.engine.begin() as connection:
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": heads[0]})


def test_health_on_an_empty_database_is_503_not_initialized(backend, backend_name, request, tmp_path):
    """A database nobody has migrated yet (a new deployment): no tables at all."""
    import webtest

    from orbitflow.app import make_app
    from orbitflow.config import load_settings
    from orbitflow.db import make_engine

    if backend_name == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    else:
        url = request.getfixturevalue("new_mariadb_database")()
    engine = make_engine(load_settings(backend.ini(**{"sqlalchemy.url": url}), environ={}).database)
    try:
        app = make_app(backend.ini(**{"sqlalchemy.url": url}), environ={}, engine=engine)
        response = webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"}).get("/api/health", status=503)
        assert response.json == {
            "status": "error",
            "database": "ok",
            "version": response.json["version"],
            "migrations": "not initialized",
        }
    finally:
        engine.dispose()
