"""Layer 2: how request bytes reach AuthForge.

``_http`` sends (one urllib3 pool per engine, TLS always on, a fresh nonce per retry);
``_addresses`` says where traffic may go (the base URL rule, proxies, the heartbeat
interval the hosted service allows); ``_retry`` is the retry policy; ``_watchdog`` a
total deadline for blocking socket I/O; ``_urllib3`` loads urllib3 without its HTTP/2
package. Imports ``_protocol`` and ``_base`` only.
"""
