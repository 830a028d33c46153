"""``install()`` refuses a wrong argument at once, with a clear error (never later, inside the
event loop, where it would surface as a traceback in a callback)."""

from __future__ import annotations

import importlib.util

import pytest

BAD = [
    ({"exit_code": 300}, ValueError, "exit_code"),
    ({"exit_code": True}, ValueError, "exit_code"),
    ({"save": "save"}, TypeError, "save"),
    ({"dialog": "no"}, TypeError, "dialog"),
    ({"activate": None}, TypeError, "activate"),
    ({"guard": "guard"}, TypeError, "Guard"),
]


@pytest.mark.skipif(importlib.util.find_spec("tkinter") is None, reason="no tkinter")
def test_tk_install_refuses_what_is_not_a_root():
    from authforge_guard.tk import install

    with pytest.raises(TypeError, match=r"tkinter\.Tk"):
        install("root")  # type: ignore[arg-type]


@pytest.mark.skipif(importlib.util.find_spec("tkinter") is None, reason="no tkinter")
@pytest.mark.parametrize(("options", "error", "names"), BAD)
def test_tk_install_refuses_bad_options(display, monkeypatch, af, options, error, names):
    import tkinter

    from authforge_guard.tk import install

    monkeypatch.setenv("DISPLAY", display)
    root = tkinter.Tk()
    try:
        with pytest.raises(error, match=names):
            install(root, **{"guard": af.guard(), **options})
        assert root.state() == "normal"  # nothing was done to the app
    finally:
        root.destroy()


@pytest.mark.skipif(importlib.util.find_spec("PySide6") is None, reason="no PySide6")
def test_qt_install_refuses_what_is_not_an_application():
    from authforge_guard.qt import install

    with pytest.raises(TypeError, match="QApplication"):
        install(object())
