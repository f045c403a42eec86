"""OGBench family: TorchRL env, task suite, dataset generation/validation and replay buffers."""

from envs.ogbench.env import OGBenchEnv
from envs.ogbench.names import SUPPORTED_DATASETS, DatasetSpec, parse_name
from envs.ogbench.suite import OGBenchTaskSuite

__all__ = ["OGBenchEnv", "OGBenchTaskSuite", "SUPPORTED_DATASETS", "DatasetSpec", "parse_name"]
from envs.ogbench.buffer import OGBenchReplayBuffer, build_buffer, load_ogbench_dataset, resolve_dataset_files
from envs.ogbench.dataset import DatasetError, generate_dataset, validate_dataset, write_npz

__all__ += [
    "OGBenchReplayBuffer",
    "build_buffer",
    "load_ogbench_dataset",
    "resolve_dataset_files",
    "DatasetError",
    "generate_dataset",
    "validate_dataset",
    "write_npz",
]
