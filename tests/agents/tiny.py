"""Tiny network sizes per representation, shared by the tests that train (seconds on a CPU)."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir

TINY_REPRESENTATION = {
    "td_jepa": [
        "representation.z_dim=8",
        "representation.phi_dim=8",
        "representation.phi_encoder.hidden_dim=16",
        "representation.psi_encoder.hidden_dim=16",
        "representation.predictor.hidden_dim=16",
    ],
    "fb": [
        "representation.z_dim=8",
        "representation.left_dim=8",
        "representation.left_encoder.hidden_dim=16",
        "representation.backward.hidden_dim=16",
        "representation.forward_map.hidden_dim=16",
    ],
    "hilp": [
        "representation.z_dim=8",
        "representation.left_dim=8",
        "representation.features.hidden_dim=16",
        "representation.left_encoder.hidden_dim=16",
        "representation.successor_features.hidden_dim=16",
    ],
}

CONFIGS = str(Path(__file__).resolve().parents[2] / "configs")
TINY_BC = {
    "act_jepa": [
        "policy.chunk=5",
        "policy.d_model=16",
        "policy.heads=2",
        "policy.ffn_dim=32",
        "policy.encoder_layers=1",
        "policy.predictor_dim=8",
        "policy.predictor_ffn_dim=16",
        "policy.predictor_layers=1",
    ],
    "act": [
        "policy.chunk=5",
        "policy.d_model=16",
        "policy.heads=2",
        "policy.ffn_dim=32",
        "policy.encoder_layers=1",
    ],
    "mlp_bc": ["policy.chunk=5", "policy.hidden_dim=16", "policy.hidden_layers=2"],
}


def bc_overrides(policy: str, cache: Path) -> list[str]:
    return [
        f"policy={policy}",
        *TINY_BC[policy],
        "env=ogbench",
        "env.max_episode_steps=12",
        "dataset.episodes_per_task=2",
        "dataset.val_episodes_per_task=1",
        "dataset.batch_size=16",
        "train.steps=4",
        "train.log_every=2",
        "train.checkpoint_every=2",
        "eval.episodes=1",
        "probe.steps=3",
        "probe.hidden_dim=8",
        "logger.backend=csv",
        f"dataset.cache_dir={cache}",
    ]


def compose_bc(overrides: list[str]):
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        return compose("bc", overrides=overrides)


# seq-JEPA pretraining (agents.pretrain): tiny model, and tiny OGBench trajectories
TINY_SEQ_JEPA = [
    "objective.feature_dim=16",
    "objective.channels=[4,8]",
    "objective.action_embed_dim=8",
    "objective.layers=1",
    "objective.heads=2",
    "objective.predictor_hidden_dim=32",
    "objective.views=2",
    "train.steps=3",
    "train.log_every=3",
    "dataset.batch_size=8",
    "probe.steps=5",
    "probe.hidden_dim=8",
    "logger.backend=csv",
]
TINY_TRAJECTORIES = [
    "data=trajectories",
    "env=ogbench",
    "dataset.source=generated",
    "dataset.num_episodes=10",
    "dataset.episode_length=40",
    "data.stride=2",
    "eval.views=[1,3]",
    "probe.windows=64",
]


def compose_pretrain(overrides: list[str]):
    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        return compose("pretrain", overrides=overrides)


# vision JEPAs (agents.pretrain data=frames): one-block ViTs on 32 px frames of a few tiny DMC episodes
def _vit(group: str, predictor: str = "predictor") -> list[str]:
    return [
        f"objective.{group}.{k}={v}"
        for k, v in (
            ("dim", 16),
            ("depth", 1),
            ("heads", 2),
            (f"{predictor}_dim", 8),
            (f"{predictor}_depth", 1),
            (f"{predictor}_heads", 2),
        )
    ]


TINY_VISION = {
    "vjepa": _vit("model"),
    "dmt_jepa": [*_vit("model"), "objective.patch_size=4"],  # an 8 x 8 grid leaves room for I-JEPA's context
    "salt": [*_vit("student"), *_vit("teacher", "decoder")],
}
TINY_FRAMES = [
    "data=frames",
    "data.image_size=32",
    "data.progress=false",
    "data.val_fraction=0.25",
    "data.test_fraction=0.25",
    "env=dmc",
    "env.domain=walker",
    "dataset.num_episodes=4",
    "dataset.episode_length=30",
    "train.steps=6",
    "train.log_every=3",
    "dataset.batch_size=8",
    "probe.steps=5",
    "probe.frames=64",
    "logger.backend=csv",
]


def vision_overrides(representation: str, cache: Path, *extra: str) -> list[str]:
    return [
        f"objective={representation}",
        *TINY_VISION[representation],
        *TINY_FRAMES,
        f"dataset.cache_dir={cache}",
        f"dataset.data_dir={cache / 'official'}",
        f"data.cache_dir={cache}",
        *extra,
    ]


# T-JEPA (agents.pretrain data=table): a one-block transformer over the features of a row
TINY_T_JEPA = [
    "objective=t_jepa",
    "data=table",
    "objective.model.dim=8",
    "objective.model.depth=1",
    "objective.model.predictor_dim=8",
    "objective.model.predictor_depth=1",
    "train.steps=4",
    "train.log_every=2",
    "dataset.batch_size=32",
    "probe.steps=20",
    "probe.hidden_dim=8",
    "logger.backend=csv",
]
TINY_ENV_STATES = [
    "data.name=env_states",
    "data.rows=200",
    "env=ogbench",
    "dataset.source=generated",
    "dataset.num_episodes=2",
    "dataset.episode_length=40",
]


# AD-L-JEPA / Occupancy-MAE (agents.pretrain data=lidar): a narrow BEV encoder on a few small scenes
TINY_LIDAR = [
    "objective=ad_l_jepa",
    "data=lidar",
    "data.scenes=40",
    "data.progress=false",
    "data.val_fraction=0.25",
    "data.test_fraction=0.25",
    "data.grid.rows=16",
    "data.grid.cols=16",
    "data.lidar.beams=8",
    "data.lidar.azimuths=64",
    "objective.model.channels=8",
    "train.steps=4",
    "train.log_every=2",
    "dataset.batch_size=8",
    "data.downstream.steps=4",
    "data.downstream.eval_every=2",
    "data.downstream.batch_size=8",
    "logger.backend=csv",
]
TINY_MAZE_LIDAR = [
    "objective=ad_l_jepa",
    "data=lidar",
    "data.source=maze",
    "data.positions=60",
    "env=ogbench",
    "dataset.source=generated",
    "dataset.num_episodes=2",
    "dataset.episode_length=40",
    "objective.model.channels=8",
    "train.steps=4",
    "train.log_every=2",
    "dataset.batch_size=8",
    "logger.backend=csv",
]


# UI-JEPA (agents.pretrain data=ui_activity): a one-block video ViT on a few tiny clips
TINY_UI = [
    "objective=ui_jepa",
    "data=ui_activity",
    "data.intents=6",
    "data.zeroshot_intents=2",
    "data.clips_per_intent=4",
    "data.val_clips=2",
    "data.test_clips=2",
    "data.frames=4",
    "data.image_size=32",
    "data.progress=false",
    "objective.model.dim=16",
    "objective.model.depth=1",
    "objective.model.heads=2",
    "objective.model.predictor_dim=8",
    "objective.model.predictor_depth=1",
    "objective.model.predictor_heads=2",
    "objective.decoder.dim=16",
    "objective.decoder.depth=1",
    "objective.decoder.heads=2",
    "objective.decoder.steps=20",
    "objective.decoder.eval_every=10",
    "train.steps=3",
    "train.log_every=3",
    "dataset.batch_size=4",
    "logger.backend=csv",
]


def interrupted_copy(full: Path, interrupted: Path, at: int) -> Path:
    """A copy of the finished run folder ``full`` cut back to its checkpoint at update ``at``: the later checkpoints
    are removed and ``latest`` points there, as if the run had stopped right after that checkpoint."""
    import shutil

    shutil.copytree(full, interrupted)
    for step in (interrupted / "checkpoints").glob("step*"):
        if int(step.name.removeprefix("step")) > at:
            shutil.rmtree(step)
    (interrupted / "checkpoints" / "latest").write_text(f"step{at:09d}")
    return interrupted


def assert_same_weights(run_a: Path, run_b: Path, step: int) -> dict:
    """The model.safetensors of both runs at ``step`` are equal, tensor by tensor; returns run_a's."""
    import torch
    from safetensors.torch import load_file

    name = f"checkpoints/step{step:09d}/model.safetensors"
    a, b = load_file(str(run_a / name)), load_file(str(run_b / name))
    for key in a:
        torch.testing.assert_close(b[key], a[key], msg=key)
    return a
