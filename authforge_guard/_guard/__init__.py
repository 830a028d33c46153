"""Layer 4: ``Guard``, one per licensed program, and its parts.

``_facade`` is the Guard's public face; its parts are objects it holds: the login flow
(``_login_flow``), the table of sessions (``_session_table``, with ``_sessions``), what
it talks to (``_upstream``), the background checks (``_checks``), the loss path
(``_losses`` and the ``on_lost`` policies, ``_policy``). Beside them: the settings
(``_config``), the public ``Session`` (``_session``), what a license grants
(``_grants``), where coroutines' logins run (``_logins``), the stored key
(``_keystore``). Imports the layers below: ``_client``, ``_stores``, ``_delivery``,
``_transport``, ``_protocol``, ``_base``.
"""
