"""TorchRL agents consuming the representations (entry points: ``python -m agents.<name>``)."""

import envs.gl_backend  # noqa: F401,E402  (first: a missing MUJOCO_GL backend matters only when rendering)
import agents.engine.schema  # noqa: F401,E402  (registers the config schemas the primary configs list first)
