"""The super admin area's own navigation: the core's pages, then those plugins add
(``add_admin_section`` from their ``add_routes`` hook)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyramid.registry import Registry
from pyramid.request import Request

from orbitflow.shared import provide, provided

CORE_SECTIONS = (
    ("companies", "Companies", "admin_companies"),
    ("syslog", "System log", "admin_syslog"),
    ("audit", "Audit log", "admin_audit"),
)


@dataclass
class AdminSections:
    """(key, label, route name) of each page, in order."""

    items: list[tuple[str, str, str]] = field(default_factory=lambda: list(CORE_SECTIONS))


def add_admin_section(registry: Registry, key: str, label: str, route_name: str) -> None:
    sections = provided(registry, AdminSections) or provide(registry, AdminSections())
    if key not in {item[0] for item in sections.items}:
        sections.items.append((key, label, route_name))


def admin_sections(request: Request) -> list[tuple[str, str, str]]:
    sections = provided(request.registry, AdminSections)
    return sections.items if sections is not None else list(CORE_SECTIONS)


def includeme(config) -> None:
    if provided(config.registry, AdminSections) is None:
        provide(config.registry, AdminSections())
    config.add_request_method(admin_sections, "admin_sections", reify=True)
