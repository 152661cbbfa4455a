"""OCPP 2.0.1 beside 1.6: the operations as 2.0.1 speaks them (``operations``) and the
station's own messages (``messages``, ``transactions``), on the framework in ``spec``."""
