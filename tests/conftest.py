import os
import warnings

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("WANDB_MODE", "offline")
warnings.filterwarnings("ignore", category=UserWarning, module="torchrl")
