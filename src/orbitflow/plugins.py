"""The plugin manager: loads the INI's plugins by entry point and applies their hooks."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy
from pluggy import PluginManager
from pyramid.registry import Registry
from pyramid.request import Request
from sqlalchemy import Table

from orbitflow import hookspecs
from orbitflow.config import ConfigError, get_settings
from orbitflow.models.meta import Base
from orbitflow.shared import provide, provided, shared

ENTRY_POINT_GROUP = "orbitflow.plugins"


class RolePermissions(dict[str, frozenset[str]]):
    """Role name -> the permissions every grant gives it, merged once at start-up."""


class ReadOnlyPermissions(frozenset[str]):
    """The permissions that only let one read (grants with ``read_only``): all that is
    left of a role's while a super admin impersonates it."""


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NavItem:
    label: str
    route_name: str
    permission: str
    order: int = 100
    # Extra route prefixes (besides the route's own path) that mark the item active.
    match_prefix: str | None = None


@dataclass(frozen=True)
class PermissionGrant:
    permission: str
    roles: tuple[str, ...]
    description: str = ""
    # Only lets one read: kept while a super admin impersonates (read-only) a user.
    read_only: bool = False


@dataclass(frozen=True)
class Widget:
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


@dataclass(frozen=True)
class LeadFact:
    """A short fact about a lead (``label``: ``value``) for its board card and the lead list."""

    lead_id: int
    label: str
    value: str


@dataclass(frozen=True)
class FilterChoice:
    """A choice list for one of the lead filters (``param``, e.g. ``quiz_id``) on the board
    and the lead list: ``choices`` are (value, label) pairs."""

    param: str
    label: str
    choices: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class LeadListFilter:
    """Query parameters a plugin adds to the lead filters of the board, the lead list, its
    CSV export and ``GET /api/v1/leads``.

    ``parse`` turns one parameter's non-empty text into its value, raising ``ValueError``
    with the message to show for a bad one; ``format`` turns a value back into text for
    links. ``criterion(company_id, values)`` gets the given parameters' values (by name)
    and returns a SQL boolean expression on ``Lead``, usually
    ``Lead.id.in_(select(...).where(Table.company_id == company_id, ...))``: lead the
    subquery with ``company_id``, so it uses the plugin table's company index."""

    params: tuple[str, ...]
    parse: Callable[[str], Any]
    criterion: Callable[[int, Mapping[str, Any]], Any]
    format: Callable[[Any], str] = str


class LeadListFilters(tuple[LeadListFilter, ...]):
    """The enabled plugins' lead filters, merged once per application."""


@dataclass(frozen=True)
class FirstStep:
    """A step of a new company's set-up checklist on the dashboard. ``done`` is a SQL
    boolean expression (such as ``exists().where(...)``): every step's is read in one
    query. Shown to users with ``permission``; ``route_name`` is where the step is done."""

    key: str
    label: str
    route_name: str
    done: Any
    permission: str
    order: int = 100


@dataclass(frozen=True)
class PublicPage:
    """A public page being rendered, for :func:`public_page_scripts`."""

    kind: str
    company_id: int
    quiz_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PageScript:
    """A script a plugin adds to a public page: a URL the app serves, ``data-*``
    attributes it reads its settings from, and CSP sources by directive
    (``{"script-src": ("https://connect.facebook.net",)}``) for that page only."""

    src: str
    attributes: dict[str, str] = field(default_factory=dict)
    csp: dict[str, tuple[str, ...]] = field(default_factory=dict)


def installed_plugins() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def make_plugin_manager(names: Iterable[str]) -> pluggy.PluginManager:
    """Register the core's own hook implementations, then each named plugin.

    An unknown name stops start-up with the list of installed plugins.
    """
    pm = pluggy.PluginManager("orbitflow")
    pm.add_hookspecs(hookspecs)
    pm.register(importlib.import_module("orbitflow.core_hooks"), name="core")
    available = installed_plugins()
    for name in names:
        ep = available.get(name)
        if ep is None:
            listed = ", ".join(sorted(available)) or "none"
            raise ConfigError(f"unknown plugin {name!r} in orbitflow.plugins; installed: {listed}")
        try:
            module = ep.load()
        except Exception as error:
            raise ConfigError(f"plugin {name!r} failed to load: {type(error).__name__}: {error}") from error
        try:
            pm.register(module, name=name)
        except pluggy.PluginValidationError as error:
            raise ConfigError(f"plugin {name!r} has a malformed hook: {_one_line(error)}") from error
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as error:
        raise ConfigError(_unknown_hook_message(pm, error)) from error
    return pm


def _unknown_hook_message(pm: pluggy.PluginManager, error: pluggy.PluginValidationError) -> str:
    """Name the plugin and the hook it misspelt, and list the real hooks."""
    callers = {name: getattr(pm.hook, name) for name in dir(pm.hook) if not name.startswith("_")}
    known = sorted(name for name, caller in callers.items() if caller.spec is not None)
    for name, caller in sorted(callers.items()):
        if caller.spec is None:
            for impl in caller.get_hookimpls():
                if impl.plugin is error.plugin:
                    return (
                        f"plugin {impl.plugin_name!r} implements {name!r}, which is not an OrbitFlow hook; "
                        f"the hooks are: {', '.join(known)}"
                    )
    return f"{_one_line(error)}; the hooks are: {', '.join(known)}"


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def _flatten(results: Iterable[Iterable[Any] | None]) -> list[Any]:
    return [item for result in results if result for item in result]


def collect(pm: pluggy.PluginManager, hook_name: str, **kwargs) -> list[Any]:
    return _flatten(getattr(pm.hook, hook_name)(**kwargs))


def import_model_modules(pm: pluggy.PluginManager) -> None:
    for module_name in collect(pm, "model_modules"):
        importlib.import_module(module_name)


def migration_locations(pm: pluggy.PluginManager) -> list[str]:
    locations = collect(pm, "migration_locations")
    if len(set(locations)) != len(locations):
        raise ConfigError(f"duplicate migration locations: {locations}")
    return locations


def role_permissions(pm: pluggy.PluginManager) -> RolePermissions:
    """Merge every grant into role -> permissions."""
    from orbitflow.security import ROLES

    table: dict[str, set[str]] = {role: set() for role in ROLES}
    for grant in collect(pm, "permissions"):
        for role in grant.roles:
            if role not in table:
                raise ConfigError(f"permission {grant.permission!r} granted to unknown role {role!r}")
            table[role].add(grant.permission)
    return RolePermissions({role: frozenset(perms) for role, perms in table.items()})


def read_only_permissions(pm: pluggy.PluginManager) -> ReadOnlyPermissions:
    return ReadOnlyPermissions(grant.permission for grant in collect(pm, "permissions") if grant.read_only)


def nav_items(request: Request, hook_name: str = "nav_items") -> list[NavItem]:
    items = collect(shared(request.registry, PluginManager), hook_name, request=request)
    seen: set[str] = set()
    visible = []
    for item in sorted(items, key=lambda item: (item.order, item.label)):
        if item.route_name in seen:
            continue
        seen.add(item.route_name)
        if request.has_permission(item.permission):
            visible.append(item)
    return visible


def lead_list_filters(registry) -> LeadListFilters:
    """The enabled plugins' ``lead_list_filters``, read at the first use and kept. A
    parameter offered twice, or one of the core's own filters, is a plugin's mistake."""
    kept = provided(registry, LeadListFilters)
    if kept is not None:
        return kept
    from orbitflow.leads.queries import CORE_FILTERS

    taken: set[str] = {*CORE_FILTERS, "owner", "owner_id"}
    offered = []
    for offer in collect(shared(registry, PluginManager), "lead_list_filters"):
        if not isinstance(offer, LeadListFilter):
            raise TypeError(f"lead_list_filters returned {offer!r}, which is not a LeadListFilter")
        clash = taken.intersection(offer.params)
        if clash:
            raise ConfigError(f"lead_list_filters offers {', '.join(sorted(clash))}, which is already a lead filter")
        taken.update(offer.params)
        offered.append(offer)
    return provide(registry, LeadListFilters(offered))


def public_page_scripts(request: Request, page: PublicPage) -> list[PageScript]:
    """The plugins' scripts for ``page``. Their CSP sources are checked as
    ``orbitflow.csp_extra`` is (no inline code, no scheme-wide sources, no locked
    directive) and kept for this response's policy."""
    from orbitflow.web.csp import check_page_sources

    scripts = collect(shared(request.registry, PluginManager), "public_page_scripts", request=request, page=page)
    sources: dict[str, tuple[str, ...]] = dict(request.environ.get("orbitflow.csp_sources") or {})
    for script in scripts:
        if not isinstance(script, PageScript):
            raise TypeError(f"public_page_scripts returned {script!r}, which is not a PageScript")
        for name, values in check_page_sources(script.csp).items():
            sources[name] = tuple(dict.fromkeys(sources.get(name, ()) + values))
    if sources:
        request.environ["orbitflow.csp_sources"] = sources
    return scripts


def public_page_tables(pm: pluggy.PluginManager) -> list[Table]:
    """The tables the plugins' ``public_page_scripts`` read for a quiz page."""
    tables = []
    for name in dict.fromkeys(collect(pm, "public_page_tables")):
        table = Base.metadata.tables.get(name)
        if table is None:
            raise ConfigError(f"public_page_tables names {name!r}, which is no table of the installed models")
        tables.append(table)
    return tables


def notify_in_transaction(registry: Registry, session, hook_name: str, event: Any) -> None:
    """Call ``domain_event_in_transaction`` now, inside the caller's transaction."""
    pm = shared(registry, PluginManager)
    pm.hook.domain_event_in_transaction(session=session, name=hook_name, event=event, registry=registry)


def notify_after_commit(request: Request, hook_name: str, event: Any) -> None:
    """Announce an event: for a domain event (:data:`orbitflow.events.DOMAIN_EVENTS`)
    ``domain_event_in_transaction`` runs at once in the request's transaction; the event's
    own hook runs once that transaction has committed.

    A failing after-commit hook is logged to the system log and does not affect the
    response; a failing in-transaction hook fails the request.
    """
    from orbitflow.events import DOMAIN_EVENTS

    pm = shared(request.registry, PluginManager)
    registry = request.registry
    if hook_name in DOMAIN_EVENTS:
        notify_in_transaction(registry, request.dbsession, hook_name, event)

    def call(committed: bool) -> None:
        if not committed:
            return
        try:
            getattr(pm.hook, hook_name)(event=event)
        except Exception as error:
            from orbitflow.syslog.services import record_exception

            record_exception(registry, error, source="SERVER_ACTION", endpoint=f"hook:{hook_name}")

    request.tm.get().addAfterCommitHook(call)


def includeme(config) -> None:
    settings = get_settings(config.registry)
    pm = make_plugin_manager(settings.plugins)
    provide(config.registry, pm, PluginManager)
    import_model_modules(pm)
    provide(config.registry, role_permissions(pm))
    provide(config.registry, read_only_permissions(pm))
