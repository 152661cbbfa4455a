"""A station simulator: real OCPP 1.6-J clients for demos, tests and load."""
