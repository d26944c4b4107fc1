"""Leads and the Kanban pipeline: stages, the board, the list, a lead's page, CSV import
and export, and the JSON API under /api/v1/leads and /api/v1/stages."""

from orbitflow.web import ContentHashCacheBuster

STATIC_SPEC = "orbitflow:leads/static/"


def includeme(config) -> None:
    config.add_static_view("static-leads", STATIC_SPEC, cache_max_age=31536000)
    config.add_cache_buster(STATIC_SPEC, ContentHashCacheBuster())
    config.include(".board_views")
    config.include(".list_views")
    config.include(".import_views")
    config.include(".lead_views")
    config.include(".stage_views")
    config.include(".api")
