"""Use cases and the ports they need: command handler, dispatcher, projections, queries."""
