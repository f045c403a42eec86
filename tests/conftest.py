import os
import warnings

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("WANDB_MODE", "offline")
# one thread per process (the tests' subprocesses and notebook kernel included): two threads beside another job on a
# 2-core machine were measured 10x slower
os.environ.setdefault("OMP_NUM_THREADS", "1")
warnings.filterwarnings("ignore", category=UserWarning, module="torchrl")

import agents  # noqa: E402,F401  (registers the config schemas that configs/*.yaml list first, for tests that compose)
import torch  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
