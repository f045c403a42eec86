"""wandb: offline unless logged in, runs named and grouped from the config."""

from __future__ import annotations

import pytest

from agents.engine import loggers
from agents.engine import MultiLogger
from agents.engine.loggers import resolve_wandb_mode


@pytest.fixture
def no_wandb_credentials(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_BASE_URL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # netrc is read from $HOME/.netrc
    monkeypatch.delenv("NETRC", raising=False)
    return tmp_path


def test_auto_mode_is_offline_until_the_user_logs_in(no_wandb_credentials, monkeypatch):
    home = no_wandb_credentials
    assert resolve_wandb_mode("auto") == "offline"
    (home / ".netrc").write_text("machine api.wandb.ai\n  login user\n  password abc123\n")
    (home / ".netrc").chmod(0o600)
    assert resolve_wandb_mode("auto") == "online"  # what `wandb login` writes
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert resolve_wandb_mode("auto") == "offline"  # an explicit WANDB_MODE wins
    assert resolve_wandb_mode("online") == "online" and resolve_wandb_mode("offline") == "offline"


def test_api_key_counts_as_logged_in(no_wandb_credentials, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert resolve_wandb_mode("auto") == "online"


def test_unknown_mode_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown logger.mode 'cloud'; use one of \['auto', 'online', 'offline'\]"):
        resolve_wandb_mode("cloud")


def test_wandb_run_gets_name_group_and_tags_from_the_config(monkeypatch, tmp_path, no_wandb_credentials):
    seen = {}

    class RecordingWandbLogger:
        def __init__(self, exp_name, **kwargs):
            seen.update(kwargs, exp_name=exp_name)

    import torchrl.record.loggers.wandb as wandb_module

    monkeypatch.setattr(wandb_module, "WandbLogger", RecordingWandbLogger)
    cfg = {"backend": "wandb", "mode": "auto", "project": "jepa-rl", "group": None, "tags": ["ablation"]}
    MultiLogger(cfg, tmp_path, "zeroshot-fb-walker-seed2", {"seed": 2}, group="zeroshot-fb-walker", tags=["fb", "dmc"])
    assert seen["exp_name"] == "zeroshot-fb-walker-seed2" and seen["group"] == "zeroshot-fb-walker"
    assert seen["tags"] == ["fb", "dmc", "ablation"] and seen["offline"] is True and seen["project"] == "jepa-rl"
    MultiLogger({**cfg, "group": "my-study"}, tmp_path, "run", {}, group="zeroshot-fb-walker")
    assert seen["group"] == "my-study"  # logger.group overrides the derived group
    assert loggers.MultiLogger(cfg, tmp_path, "off", {}, enabled=False).loggers == []
