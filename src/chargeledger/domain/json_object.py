"""``JsonObject``: a JSON object at a serialization edge, whose shape is not ours to type.

The domain and the application type what they own (dataclasses, ``StrEnum``s, the
``TypedDict``s of ``application/read_model_shapes.py`` and ``document_shapes.py``).
This alias marks the few places where the value truly is a JSON document crossing an
edge, kept as it came:

- an OCPP payload: a station's answer to our CALL (``CommandAccepted.result``), the
  ``MeterValue`` objects a station sent (kept verbatim in events and documents), a
  CALL's payload (``StationProtocol``, ``StationLink``);
- a document as the ``DocumentStore`` stores and loads it, before it is checked and
  read into one of the application's types (or quarantined);
- a command's arguments as the API body named them (``CommandRequested.payload()``),
  stored in the command's document and turned into the CALL by the version's spec.
"""

from __future__ import annotations

from typing import Any

JsonObject = dict[str, Any]
"""A JSON object at a serialization edge (see the module's docstring)."""
