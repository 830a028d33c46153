"""What the layers above stand on: the session clock that wall-clock jumps cannot move
(``_clock``), the one timer thread (``_scheduler``), crash-safe files (``_files``) and
the lines a customer reads (``_console``).

Imports only the leaves and ``_protocol``'s encodings; nothing here sends or logs in.
"""
