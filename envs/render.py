"""MuJoCo rendering helpers shared by the environment families: one clear error when no OpenGL
backend works, and the cheap render settings (no MSAA, shadows or reflections)."""

from __future__ import annotations

import os
from typing import Callable, TypeVar

import mujoco

__all__ = ["RenderBackendError", "apply_cheap_render_settings", "guard_render", "make_renderer"]

T = TypeVar("T")


class RenderBackendError(RuntimeError):
    """MuJoCo could not create an OpenGL context (no usable ``MUJOCO_GL`` backend)."""


def _backend_error(err: BaseException) -> RenderBackendError:
    requested = os.environ.get("JEPA_RL_MUJOCO_GL")  # set aside by envs.gl_backend: its library is missing
    backend = requested or os.environ.get("MUJOCO_GL", "<unset: glfw, needs a display>")
    missing = " (its library was not found, so MuJoCo started without it)" if requested else ""
    return RenderBackendError(
        f"MuJoCo could not render with MUJOCO_GL={backend}{missing} ({type(err).__name__}: {err}). "
        "On a headless machine set MUJOCO_GL=egl and install the EGL packages "
        "(Debian/Ubuntu: apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1), "
        "or use MUJOCO_GL=osmesa with libosmesa6. MUJOCO_GL must be set before Python starts."
    )


# What MuJoCo raises without a working GL: FatalError (no context), RuntimeError (bad MUJOCO_GL),
# ImportError/OSError (library missing), AttributeError (PyOpenGL without the platform library).
_GL_ERRORS = (mujoco.FatalError, RuntimeError, ImportError, OSError, AttributeError)


def guard_render(create: Callable[[], T]) -> T:
    """Runs ``create`` (a call that makes the GL context) and turns GL failures into one clear error."""
    try:
        return create()
    except _GL_ERRORS as err:
        raise _backend_error(err) from err


def make_renderer(model: mujoco.MjModel, height: int, width: int) -> mujoco.Renderer:
    return guard_render(lambda: mujoco.Renderer(model, height, width))


def apply_cheap_render_settings(model: mujoco.MjModel) -> None:
    """Rendering-only model fields; set them before the GL context is created."""
    model.vis.quality.offsamples = 0
    model.light_castshadow[:] = 0
    model.mat_reflectance[:] = 0
