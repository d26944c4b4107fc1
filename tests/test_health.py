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
