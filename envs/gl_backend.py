"""Defers a missing MuJoCo OpenGL backend until something renders.

With ``MUJOCO_GL=osmesa`` (or ``egl``) and no such library installed, ``import mujoco`` itself fails deep inside
PyOpenGL, and torchrl imports mujoco, so even a training run that never renders would die at import time. This
module is imported first by every package of the project: when the named backend's library cannot be found, it
takes ``MUJOCO_GL`` out of the environment (MuJoCo then imports without a GL context) and keeps the request in
``JEPA_RL_MUJOCO_GL``, so the first render raises :class:`envs.render.RenderBackendError` naming it.
"""

from __future__ import annotations

import ctypes.util
import os

_LIBRARIES = {"osmesa": "OSMesa", "egl": "EGL"}
REQUESTED = "JEPA_RL_MUJOCO_GL"


def defer_missing_backend() -> str | None:
    """Returns the backend that was set aside (None when ``MUJOCO_GL`` is usable, unset, or already set aside)."""
    backend = os.environ.get("MUJOCO_GL", "").lower()
    library = _LIBRARIES.get(backend)
    if library is None or ctypes.util.find_library(library) is not None:
        return None
    os.environ[REQUESTED] = os.environ.pop("MUJOCO_GL")
    return backend


defer_missing_backend()
