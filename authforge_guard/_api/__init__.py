"""Layer 5: the public API over a Guard, and what the integrations share.

The default guard (``_default_guard``), the session a guarded call runs on
(``_guarded_call``), ``@requires_license`` (``_decorators``, on ``_wrapt``),
``licensed()`` (``_licensed``), ``@feature`` (``_features``), hooks registered before
configuration (``_library_hooks``), what a refusal does to a customer (``_refusal``),
``activate()`` (``_activate``); what the public integration modules stand on: the
frameworks (``_frameworks``), the desktop apps (``_gui``) and the chat bots
(``_users``).
"""
