"""Public lead-generation quizzes: build, publish, and turn visitors into leads."""

from __future__ import annotations

from orbitflow import hookimpl
from orbitflow.plugins import PermissionGrant

MANAGERS = ("OWNER", "ADMIN", "MANAGER")


@hookimpl
def permissions():
    return [
        PermissionGrant("quizzes.view", (*MANAGERS, "AGENT", "VIEWER"), "See quizzes and their results"),
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
