"""Routes and views of the analytics plugin; its daily funnel counts follow the quiz
plugin's recorder, and its lead counts are kept by the process's rollups writer."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from orbitflow.batches import MemoryBuffer, RedisBuffer
from orbitflow.config import get_settings
from orbitflow.lifecycle import on_shutdown
from orbitflow.shared import provide, provided, shared
from orbitflow.superadmin.sections import add_admin_section
from orbitflow.web import ContentHashCacheBuster
from orbitflow_plugins.analytics.funnelcounts import count_batch
from orbitflow_plugins.analytics.rollups import LeadChange, LeadRollups, rollups_for
from orbitflow_plugins.quiz.recorder import FunnelRecorder


def _follow_recorder(registry) -> None:
    recorder = provided(registry, FunnelRecorder)
    if recorder is not None and count_batch not in recorder.observers:
        recorder.observers.append(count_batch)


def _start_rollups(registry) -> None:
    settings = get_settings(registry)
    # One list per database, so installations sharing a Redis keep their changes apart.
    database = settings.database.url.database or "orbitflow"
    buffer = (
        RedisBuffer(settings.redis_url, f"orbitflow:{database}:analytics-leads", LeadChange.from_json)
        if settings.redis_url
        else MemoryBuffer()
    )
    rollups = provide(registry, rollups_for(shared(registry, Engine), buffer), LeadRollups)
    on_shutdown(registry, rollups.close)


def includeme(config) -> None:
    _start_rollups(config.registry)
    # An action runs once every plugin's routes are added, the quiz plugin's recorder too.
    config.action("orbitflow_plugins.analytics.recorder", _follow_recorder, (config.registry,))
    config.add_route("analytics", "/analytics")
    config.add_route("analytics_csv", r"/analytics/{table:[a-z_]+}.csv")
    config.add_route("analytics_quiz", r"/analytics/quizzes/{quiz_id:\d+}")
    config.add_route("admin_platform_overview", "/admin/overview")
    add_admin_section(config.registry, "overview", "Platform overview", "admin_platform_overview")
    config.add_route("api_analytics_summary", "/api/v1/analytics/summary")
    config.add_route("api_analytics_funnel", r"/api/v1/analytics/quizzes/{quiz_id:\d+}/funnel")
    config.add_static_view("analytics-static", "orbitflow_plugins.analytics:static", cache_max_age=31536000)
    config.add_cache_buster("orbitflow_plugins.analytics:static/", ContentHashCacheBuster())
    for module in ("api", "views", "platform"):
        config.scan(f"orbitflow_plugins.analytics.{module}")
