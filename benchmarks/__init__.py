import envs.gl_backend  # noqa: F401,E402  (first: a missing MUJOCO_GL backend matters only when rendering)
import agents  # noqa: F401,E402  (registers the config schemas that configs/*.yaml list first)
