"""Webhooks: signed HTTP POSTs of domain events to the company's receivers, sent
through the outbox (:mod:`orbitflow.deliveries`)."""

from __future__ import annotations


def includeme(config) -> None:
    config.include("orbitflow.webhooks.api")
    config.include("orbitflow.webhooks.views")
