"""``examples/worker.py``: the line its cleanup prints names the checkpoint it wrote.

The cleanup hook runs on another thread while the main thread may still finish the
item in flight (a loss stops the next guarded call, not the one already running).
Under load, that item's ``state.update`` once landed between the checkpoint's write
and the "progress saved" line, which then named one item more than the file held:
the line the test looked for was not in the output. Here the main thread's update
is made to land in the middle of the save, every time: the checkpoint goes through
a FIFO larger than a pipe holds, so the save waits for its reader, which updates
the state before reading the rest.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading

import pytest

from .conftest import EXAMPLES, app_module

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


def _load_worker(af, monkeypatch):
    monkeypatch.syspath_prepend(app_module(af))  # the pinned authforge_app it imports
    spec = importlib.util.spec_from_file_location("example_worker", EXAMPLES / "worker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_progress_saved_names_what_the_checkpoint_holds(af, tmp_path, monkeypatch, capsys):
    worker = _load_worker(af, monkeypatch)
    path = str(tmp_path / "progress.json")
    os.mkfifo(path + ".tmp")
    state = {"done": 7, "digest": "d" * 1_000_000}  # far more than a pipe holds
    saving = threading.Thread(target=worker.save, args=(path, state))  # the cleanup hook
    saving.start()
    with open(path + ".tmp", "rb") as checkpoint:
        written = checkpoint.read(4096)  # the save is writing, and waits for us
        state.update({"done": 8, "digest": "e"})  # the main thread finishes its item
        written += checkpoint.read()
    saving.join(30)
    assert not saving.is_alive()
    assert json.loads(written)["done"] == 7
    assert capsys.readouterr().out == "progress saved: 7 items done\n"
