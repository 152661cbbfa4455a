"""Use cases and the ports they need: command bus, dispatcher, projections, queries."""
