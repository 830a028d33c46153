"""Layer 3: the AuthForge calls a session is made of.

``_engine`` makes them, raising on any failure; ``_offline`` reads ``.authforge`` files
and makes activation requests; ``_dropin`` is ``AuthForgeClient``, the official SDK's
drop-in. Imports ``_transport``, ``_protocol`` and ``_base``.
"""
