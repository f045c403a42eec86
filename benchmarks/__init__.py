import envs.gl_backend  # noqa: F401,E402  (first: a missing MUJOCO_GL backend matters only when rendering)
