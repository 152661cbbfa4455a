"""Adapters: event stores, serialization, the OCPP gateway, the clock."""
