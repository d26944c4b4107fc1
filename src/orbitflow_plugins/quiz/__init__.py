"""Public lead-generation quizzes: build, publish, and turn visitors into leads."""

from __future__ import annotations

from orbitflow import hookimpl
from orbitflow.plugins import NavItem, PermissionGrant, Widget

MANAGERS = ("OWNER", "ADMIN", "MANAGER")


@hookimpl
def permissions():
    return [
        PermissionGrant(
            "quizzes.view", (*MANAGERS, "AGENT", "VIEWER"), "See quizzes and their results", read_only=True
        ),
        PermissionGrant("quizzes.edit", MANAGERS, "Build and edit quizzes"),
        PermissionGrant("quizzes.publish", MANAGERS, "Publish and unpublish quizzes"),
    ]


@hookimpl
def migration_locations():
    return ["orbitflow_plugins.quiz.migrations:versions"]


@hookimpl
def template_dirs():
    return ["orbitflow_plugins.quiz:templates"]


@hookimpl
def model_modules():
    return ["orbitflow_plugins.quiz.models"]


@hookimpl
def add_routes(config):
    from orbitflow_plugins.quiz.routes import includeme

    includeme(config)


@hookimpl
def nav_items(request):
    return [NavItem("Quizzes", "quizzes", "quizzes.view", order=30, match_prefix="/quizzes")]


@hookimpl
def settings_pages(request):
    return [NavItem("Quiz pages", "quiz_company_settings", "company.settings", order=40)]


@hookimpl
def dashboard_widgets(request):
    if not request.has_permission("quizzes.view"):
        return []
    from orbitflow_plugins.quiz.widgets import quiz_widget_context

    return [Widget("Quizzes", "quiz_widget.jinja2", quiz_widget_context(request), order=20)]


@hookimpl
def first_steps(request):
    from sqlalchemy import exists

    from orbitflow.plugins import FirstStep
    from orbitflow_plugins.quiz.models import Quiz

    published = exists().where(Quiz.company_id == request.identity.company_id, Quiz.published_at.is_not(None))
    return [FirstStep("quiz", "Build and publish a quiz", "quizzes", published, "quizzes.publish", order=30)]


@hookimpl
def lead_facts(session, lead_ids):
    from orbitflow_plugins.quiz.cards import latest_results

    return latest_results(session, lead_ids)


@hookimpl
def lead_filter_choices(session):
    from orbitflow_plugins.quiz.cards import quiz_choices

    return quiz_choices(session)


@hookimpl
def lead_list_filters():
    from orbitflow_plugins.quiz.cards import QUIZ_FILTER

    return [QUIZ_FILTER]


@hookimpl
def domain_event_in_transaction(session, name, event):
    if name == "quiz_submitted":
        from orbitflow_plugins.quiz.thanks_mail import send_thanks

        send_thanks(session, event)


@hookimpl
def demo_data(session, company):
    from orbitflow_plugins.quiz.demo import create_demo_quizzes

    return create_demo_quizzes(session, company)
