import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("WANDB_MODE", "offline")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def pointmaze_suite():
    from envs.ogbench import OGBenchTaskSuite

    return OGBenchTaskSuite("pointmaze-medium-navigate", render_size=64)


@pytest.fixture(scope="session")
def cube_suite():
    from envs.ogbench import OGBenchTaskSuite

    return OGBenchTaskSuite("cube-single-play-v0", render_size=64)
