"""Core migrations, installed as the package ``orbitflow.alembic``."""
