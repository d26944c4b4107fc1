"""The shared declarative base (meta) and the list of every core model (all)."""
