"""OCPP-J: a sans-I/O framing core, the 1.6 schemas, and the WebSocket gateway."""
