"""Entry points: the CLI, the HTTP API and web page, the OCPP server process."""
