"""The hooks a plugin may implement.

Each hook is a plain function here; a plugin implements one by defining a function of the
same name decorated with ``@orbitflow.hookimpl``. Hooks that return data return lists,
which the core merges, validates and applies. Event hooks are called after the request's
transaction committed, never for a change that rolled back, except
``domain_event_in_transaction``, which runs inside it.
"""

from __future__ import annotations

from pluggy import HookspecMarker

hookspec = HookspecMarker("orbitflow")


@hookspec
def add_routes(config):
    """Register routes and views on the Pyramid ``Configurator``.

    Called once at start-up, after the core's routes. Every view must declare a
    permission (or ``NO_PERMISSION_REQUIRED`` for public pages); a view without one is
    refused to everybody. Returns nothing.
    """


@hookspec
def template_dirs():
    """Return a list of Jinja2 search paths as asset specs (``"mypkg:templates"``).

    Templates are looked up by name in the core's folders first, then in these.
    """


@hookspec
def model_modules():
    """Return a list of module names that define SQLAlchemy models on
    ``orbitflow.models.meta.Base``. They are imported before mappers are configured and
    before Alembic compares or migrates the schema."""


@hookspec
def migration_locations():
    """Return a list of Alembic version locations as asset specs
    (``"mypkg:migrations/versions"``). Each plugin is its own Alembic branch whose first
    revision has ``branch_labels = ("<plugin name>",)`` and ``depends_on`` the core's
    first revision, so it can be added to a running installation."""


@hookspec
def permissions():
    """Return a list of :class:`orbitflow.plugins.PermissionGrant`: a permission name and
    the roles granted it. A role's grants are the union of the core's and all plugins'."""


@hookspec
def nav_items(request):
    """Return a list of :class:`orbitflow.plugins.NavItem` for the main navigation.

    Items whose permission the user lacks are hidden by the core."""


@hookspec
def settings_pages(request):
    """Return a list of :class:`orbitflow.plugins.NavItem` for the Settings menu."""


@hookspec
def dashboard_widgets(request):
    """Return a list of :class:`orbitflow.plugins.Widget` rendered on the dashboard."""


@hookspec
def lead_facts(session, lead_ids):
    """Return a list of :class:`orbitflow.plugins.LeadFact` about the leads ``lead_ids``
    (one page of the board or the lead list), shown on their cards and as list columns
    named by the facts' labels. ``session`` is bound to the viewer's company. Called once
    per page with every lead id on it: answer with one query, never one per lead."""


@hookspec
def lead_filter_choices(session):
    """Return a list of :class:`orbitflow.plugins.FilterChoice` for the lead filters the
    board and the lead list show as choice lists (``param`` one of ``quiz_id``,
    ``utm_source``, ``utm_campaign``). Called for every board and list page."""


@hookspec
def lead_list_filters():
    """Return a list of :class:`orbitflow.plugins.LeadListFilter`: query parameters the
    board, the lead list, its CSV export and ``GET /api/v1/leads`` filter leads by, each
    with how to parse its value and the criterion it adds to the lead query. Read once,
    at the first lead query. Without the plugin its parameters are refused (400), like
    any parameter that is no filter."""


@hookspec
def first_steps(request):
    """Return a list of :class:`orbitflow.plugins.FirstStep` for the set-up checklist on a
    new company's dashboard. The checklist shows the steps the user's permissions allow,
    ticks those whose ``done`` holds (all read in one query) and disappears once all are
    done or someone dismissed it."""


@hookspec
def lead_created(event):
    """A lead was created (:class:`orbitflow.events.LeadEvent`), after commit."""


@hookspec
def lead_updated(event):
    """A lead's fields changed (:class:`orbitflow.events.LeadEvent`), after commit."""


@hookspec
def lead_moved(event):
    """A lead moved to another stage or position (:class:`orbitflow.events.LeadEvent`),
    after commit."""


@hookspec
def lead_deleted(event):
    """A lead was deleted (:class:`orbitflow.events.LeadEvent`; ``event.lead`` holds its
    fields as they were), after commit."""


@hookspec
def domain_event_in_transaction(session, name, event, registry):
    """A domain event (``name`` one of ``lead_created``, ``lead_updated``, ``lead_moved``,
    ``lead_deleted``, ``quiz_submitted``), called inside the change's transaction, before
    commit and before the event's after-commit hook is queued; or ``company_updated``
    (:class:`orbitflow.events.CompanyEvent`: a company's settings changed, ``changes``
    holds the audited diff), which has no after-commit hook.

    ``session`` is the change's session (bound to the event's company, or for a super
    admin's change of a company to the platform: name the company in your queries);
    ``registry`` is the application's (its settings, the encryptor: take it only if you
    need it). Write rows here
    that must exist exactly when the change does, above all outbox deliveries
    (:func:`orbitflow.deliveries.enqueue`); never call the outside world. An exception
    rolls the whole change back."""


@hookspec
def delivery_channels(registry):
    """Return a list of :class:`orbitflow.deliveries.Channel` objects that send outbox
    deliveries (``name``, ``max_batch``, ``send(deliveries) -> list[SendResult]``).
    Called once at start-up with the Pyramid registry; channel names must be unique."""


@hookspec
def quiz_viewed(event):
    """A public quiz page was shown (:class:`orbitflow.events.QuizEvent`), after commit."""


@hookspec
def quiz_started(event):
    """A visitor answered the first question (:class:`orbitflow.events.QuizEvent`),
    after commit."""


@hookspec
def quiz_submitted(event):
    """A quiz was completed and its lead stored (:class:`orbitflow.events.QuizEvent`),
    after commit."""


@hookspec
def public_page_scripts(request, page):
    """Return a list of :class:`orbitflow.plugins.PageScript` for a public page
    (``page`` is an :class:`orbitflow.plugins.PublicPage`: ``kind`` ``"quiz"`` or
    ``"quiz_thanks"``, ``company_id``, ``quiz_id``, ``data``). Called while the page is
    rendered; never for signed-in (CRM) pages. Each script is served by the app (a
    static URL), gets the page's nonce and its ``attributes`` (``data-*``); the sources
    in its ``csp`` are added to that response's Content-Security-Policy only.

    For a published quiz page (``"quiz"``) the answer is kept with the cached quiz
    definition and used for every visitor until that definition is read again: it may
    depend on the database (name the tables through ``public_page_tables``), never on the
    visitor's request."""


@hookspec
def public_page_tables():
    """Return a list of table names whose rows your ``public_page_scripts`` reads for a
    quiz page. A quiz page's scripts are kept with its cached definition; a row added to,
    removed from or updated in one of these tables (a newer ``updated_at``, or
    ``created_at`` for a table without one) makes every process forget them within
    ``quiz.cache_check_seconds``. Called once at start-up; an unknown name stops it."""


@hookspec
def demo_data(session, company):
    """Add demo rows for ``company`` (``initializedb --demo``, run once per database).

    ``session`` crosses tenants; set ``company_id`` on every row and flush. Return a list
    of lines saying what was created."""
