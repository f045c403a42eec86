"""DMC family (ExoRL / TD-JEPA zero-shot RL): domains and tasks, TorchRL env, task suite, ExoRL datasets."""

from envs.dmc.env import DMCEnv, PixelRenderer
from envs.dmc.suite import DMCTaskSuite
from envs.dmc.tasks import DOMAINS, DomainSpec, get_domain, load_dmc

__all__ = ["DMCEnv", "DMCTaskSuite", "DOMAINS", "DomainSpec", "PixelRenderer", "get_domain", "load_dmc"]
from envs.buffer import DatasetError
from envs.dmc.buffer import DMCReplayBuffer, build_buffers, load_dmc_dataset, resolve_episode_files
from envs.dmc.dataset import check_episode_header, collect_dataset, list_episode_files

__all__ += [
    "DatasetError",
    "DMCReplayBuffer",
    "build_buffers",
    "load_dmc_dataset",
    "resolve_episode_files",
    "check_episode_header",
    "collect_dataset",
    "list_episode_files",
]
