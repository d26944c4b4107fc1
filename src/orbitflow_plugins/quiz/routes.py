"""Routes, static files, the rate limiter, the definition cache and the funnel recorder of the quiz plugin."""

from __future__ import annotations

from pluggy import PluginManager
from pyramid.events import ApplicationCreated
from sqlalchemy.engine import Engine

from orbitflow.batches import MemoryBuffer, RedisBuffer
from orbitflow.config import get_settings
from orbitflow.lifecycle import on_shutdown
from orbitflow.metrics import add_scrape_gauge, metrics_of
from orbitflow.plugins import public_page_tables
from orbitflow.ratelimit import RateLimiter
from orbitflow.shared import provide, shared
from orbitflow.web import ContentHashCacheBuster
from orbitflow_plugins.quiz.cache import DefinitionCache
from orbitflow_plugins.quiz.ratelimit import QuizRateLimiter
from orbitflow_plugins.quiz.recorder import FunnelEvent, FunnelRecorder
from orbitflow_plugins.quiz.settings import load_quiz_settings

QUIZ_ID = r"{quiz_id:\d+}"


def _measure_backlog(registry, recorder: FunnelRecorder) -> None:
    metrics = metrics_of(registry)
    if metrics is None:
        return
    if isinstance(recorder.buffer, RedisBuffer):
        # One list for every process: read its length when Prometheus asks.
        add_scrape_gauge(
            registry,
            "funnel_recorder_redis_backlog",
            "Quiz funnel events waiting in Redis to be written.",
            lambda _registry: len(recorder.buffer),
        )
    else:
        recorder.on_backlog = metrics.instruments.FUNNEL_PROCESS_BACKLOG.set


def includeme(config) -> None:
    settings = get_settings(config.registry)
    quiz_settings = provide(config.registry, load_quiz_settings(settings.extra))
    provide(config.registry, QuizRateLimiter(shared(config.registry, RateLimiter), quiz_settings.limits))
    cache = provide(
        config.registry, DefinitionCache(shared(config.registry, Engine), quiz_settings.cache_check_seconds)
    )
    # Once the app is made, so that plugins registered after this one count.
    pm = shared(config.registry, PluginManager)
    config.add_subscriber(lambda _event: cache.watch(public_page_tables(pm)), ApplicationCreated)
    # One list per database, so installations sharing a Redis keep their events apart.
    database = settings.database.url.database or "orbitflow"
    buffer = (
        RedisBuffer(settings.redis_url, f"orbitflow:{database}:quiz-funnel", FunnelEvent.from_json)
        if settings.redis_url
        else MemoryBuffer()
    )
    recorder = provide(
        config.registry, FunnelRecorder(shared(config.registry, Engine), buffer, quiz_settings.funnel_flush_seconds)
    )
    on_shutdown(config.registry, recorder.close)
    _measure_backlog(config.registry, recorder)
    config.add_static_view("quiz-static", "orbitflow_plugins.quiz:static", cache_max_age=31536000)
    config.add_cache_buster("orbitflow_plugins.quiz:static/", ContentHashCacheBuster())

    # Public pages.
    config.add_route("quiz_theme", r"/q-theme/{color:[0-9a-fA-F]{6}}.css")
    config.add_route("quiz_public", "/q/{subscription_id}/{slug}")
    config.add_route("quiz_public_events", "/q/{subscription_id}/{slug}/events")
    config.add_route("quiz_public_thanks", "/q/{subscription_id}/{slug}/thanks/{token}")

    # The builder and results.
    config.add_route("quizzes", "/quizzes")
    config.add_route("quiz_new", "/quizzes/new")
    config.add_route("quiz_slug_check", "/quizzes/slug-check")
    config.add_route("quiz_edit", f"/quizzes/{QUIZ_ID}")
    config.add_route("quiz_settings_save", f"/quizzes/{QUIZ_ID}/settings")
    config.add_route("quiz_assignment_save", f"/quizzes/{QUIZ_ID}/assignment")
    config.add_route("quiz_question_new", f"/quizzes/{QUIZ_ID}/questions/new")
    config.add_route("quiz_question", f"/quizzes/{QUIZ_ID}/questions/{{question_id:\\d+}}")
    config.add_route("quiz_question_move", f"/quizzes/{QUIZ_ID}/questions/{{question_id:\\d+}}/move")
    config.add_route("quiz_question_delete", f"/quizzes/{QUIZ_ID}/questions/{{question_id:\\d+}}/delete")
    config.add_route("quiz_outcome_add", f"/quizzes/{QUIZ_ID}/outcomes")
    config.add_route("quiz_outcome", f"/quizzes/{QUIZ_ID}/outcomes/{{outcome_id:\\d+}}")
    config.add_route("quiz_outcome_delete", f"/quizzes/{QUIZ_ID}/outcomes/{{outcome_id:\\d+}}/delete")
    config.add_route("quiz_preview", f"/quizzes/{QUIZ_ID}/preview")
    config.add_route("quiz_state", f"/quizzes/{QUIZ_ID}/state/{{action:publish|unpublish|archive|restore}}")
    config.add_route("quiz_duplicate", f"/quizzes/{QUIZ_ID}/duplicate")
    config.add_route("quiz_submissions", f"/quizzes/{QUIZ_ID}/submissions")
    config.add_route("quiz_submissions_csv", f"/quizzes/{QUIZ_ID}/submissions.csv")
    config.add_route("quiz_company_settings", "/settings/quiz-pages")

    # JSON API.
    config.add_route("api_quizzes", "/api/v1/quizzes")
    config.add_route("api_quiz", f"/api/v1/quizzes/{QUIZ_ID}")
    config.add_route("api_quiz_publish", f"/api/v1/quizzes/{QUIZ_ID}/publish")

    for module in ("public", "builder", "results", "company_settings", "api"):
        config.scan(f"orbitflow_plugins.quiz.{module}")
