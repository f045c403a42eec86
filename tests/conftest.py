import os
import warnings

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("WANDB_MODE", "offline")
warnings.filterwarnings("ignore", category=UserWarning, module="torchrl")

import agents  # noqa: E402,F401  (registers the config schemas that configs/*.yaml list first, for tests that compose)
