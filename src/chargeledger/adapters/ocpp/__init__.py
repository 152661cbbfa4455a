"""OCPP-J: a sans-I/O framing core, the 1.6 schemas, and the WebSocket gateway in
layers: ``handshake`` (who may connect), ``connection`` (the WebSocket protocol),
``routing`` (what a station's messages mean), ``session`` (our CALLs to it) and
``gateway`` (the listener, its live stations and takeover)."""
