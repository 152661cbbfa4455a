"""OCPP 1.6 (JSON): the operations as this version speaks them, and their API bodies."""
