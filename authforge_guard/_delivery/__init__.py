"""How a loss reaches the program's code, without locks where a signal can land.

``_hooks`` runs the user's hooks in a fixed order; ``_blocks`` knows the ``licensed()``
blocks, ``shield()`` and where ``LicenseLost`` is raised; ``_interrupts`` raises it in a
blocked main thread; ``_loops`` posts it to a GUI's event loop. Imports ``_base`` and
the leaves only: a Guard hands these modules what they act on.
"""
