"""HWID v2: ``sha256_hex("authforge-hwid-v2|" + app_id + "|" + machine_id)``.

Every AuthForge SDK derives the same value for the same app and machine, so a
license bound by one SDK works with another. Reading the OS id never raises:
a machine without one falls back to the legacy fingerprint, as the official
SDKs do.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import sys
from typing import Any

HWID_V2_PREFIX = "authforge-hwid-v2|"
_LINUX_MACHINE_ID_PATHS = ("/etc/machine-id", "/var/lib/dbus/machine-id")
_MACHINE_ID_RE = re.compile(r"[0-9a-f-]{8,128}")
_ALL_ZERO_RE = re.compile(r"[0-]+")
_IOREG_UUID_RE = re.compile(r'"IOPlatformUUID"\s*=\s*"([^"]+)"')
_COMMAND_TIMEOUT_SECONDS = 2


def normalize_machine_id(raw: Any) -> str | None:
    """Trim ASCII whitespace and ASCII-lowercase; ``None`` unless 8-128 chars of ``[0-9a-f-]``
    that are not all ``0``/``-``."""
    if not isinstance(raw, str):
        return None
    value = raw.strip(" \t\r\n")
    # Only A-Z are lowered: str.lower() would map some non-ASCII letters into
    # ASCII and accept ids the other SDKs reject.
    value = "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in value)
    if not _MACHINE_ID_RE.fullmatch(value) or _ALL_ZERO_RE.fullmatch(value):
        return None
    return value


def hwid_from_machine_id(app_id: str, machine_id: str) -> str:
    """The HWID for an already-normalised machine id (or a ``legacy:`` fallback id)."""
    return hashlib.sha256(f"{HWID_V2_PREFIX}{app_id}|{machine_id}".encode()).hexdigest()


def read_os_machine_id() -> str | None:
    """This machine's normalised OS machine id, or ``None``. Never raises."""
    try:
        if sys.platform.startswith("linux"):
            return _linux_machine_id()
        if sys.platform == "darwin":
            return _macos_machine_id()
        if sys.platform == "win32":
            return _windows_machine_id()
    except Exception:  # a locked-down machine must still get a HWID
        return None
    return None


def _linux_machine_id() -> str | None:
    for path in _LINUX_MACHINE_ID_PATHS:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                machine_id = normalize_machine_id(handle.read(4096))
        except OSError:
            continue
        if machine_id:
            return machine_id
    return None


def _macos_machine_id() -> str | None:
    import subprocess

    result = subprocess.run(
        ["/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice"],
        capture_output=True,
        text=True,
        timeout=_COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        return None
    match = _IOREG_UUID_RE.search(result.stdout)
    return normalize_machine_id(match.group(1)) if match else None


def _windows_machine_id() -> str | None:
    # Imported by name so type checkers on other platforms need no Windows stubs.
    winreg: Any = importlib.import_module("winreg")
    access = winreg.KEY_READ | winreg.KEY_WOW64_64KEY
    with winreg.OpenKey(
        winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Cryptography", 0, access
    ) as key:
        value, value_type = winreg.QueryValueEx(key, "MachineGuid")
    if value_type != winreg.REG_SZ:
        return None
    return normalize_machine_id(value)


def legacy_machine_id() -> str:
    """The pre-v2 fingerprint the SDKs fall back to when the OS has no machine id."""
    material = f"mac:{_mac_address()}|cpu:{_cpu_label()}|disk:{_disk_serial()}"
    return "legacy:" + hashlib.sha256(material.encode()).hexdigest()


def machine_hwid(app_id: str) -> str:
    """This machine's HWID for ``app_id``."""
    return hwid_from_machine_id(app_id, read_os_machine_id() or legacy_machine_id())


def resolve_hwid(app_id: str, hwid_override: str | None) -> str:
    """``hwid_override`` (trimmed, when non-empty) is sent unchanged; otherwise the machine's."""
    if isinstance(hwid_override, str) and hwid_override.strip():
        return hwid_override.strip()
    return machine_hwid(app_id)


# The fallback's modules load only when it runs: subprocess, platform and uuid
# are start-up time that a machine with an OS id never needs.


def _mac_address() -> str:
    import uuid

    try:
        return f"{uuid.getnode():012x}"
    except Exception:
        return "mac-unavailable"


def _cpu_label() -> str:
    import platform

    try:
        return str(platform.processor() or platform.machine() or "cpu-unavailable")
    except Exception:
        return "cpu-unavailable"


def _disk_serial() -> str:
    import platform

    system = platform.system().lower()
    if "linux" in system:
        # The other SDKs take lsblk's answer as it is ("empty"/"unavailable"
        # included); doing the same keeps the fallback HWID identical.
        return _command_output(["lsblk", "-ndo", "SERIAL"])
    if "windows" in system:
        return _command_output(["wmic", "diskdrive", "get", "serialnumber"])
    if "darwin" in system:
        return _command_output(["system_profiler", "SPStorageDataType"])
    return "disk-unavailable"


def _command_output(command: list[str]) -> str:
    import subprocess

    try:
        output = subprocess.check_output(  # noqa: S603
            command, stderr=subprocess.DEVNULL, timeout=_COMMAND_TIMEOUT_SECONDS
        )
    except Exception:
        return "unavailable"
    cleaned = " ".join(output.decode("utf-8", errors="ignore").split())
    return cleaned[:256] if cleaned else "empty"
