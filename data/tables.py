"""Tables for T-JEPA (``python -m agents.pretrain objective=t_jepa data=table data.name=breast_cancer``).

A table is split into train / val / test rows (stratified by class for classification) and returned as
TensorDicts with
- ``observation`` f32 [N, D_num]: the numeric columns, missing values filled with the train mean, standardised
  with the train split's mean and standard deviation;
- ``categorical`` i64 [N, D_cat] (when there are categorical columns): codes 1..K of the categories seen in the
  train split, 0 for a missing or unseen category (so column j has K_j + 1 codes);
- ``target``: class indices i64 [N] (classification) or the standardised value f32 [N] (regression; the
  train mean / std are in ``info`` to report RMSE in the target's units).

Sources: scikit-learn's bundled tables (no download): ``breast_cancer``, ``diabetes``, ``wine``, ``digits``;
``synthetic_mixed`` (numeric and categorical columns with a planted label, generated here); ``synthetic_latent``
(noisy numeric and categorical views of 4 hidden factors, generated here); or any CSV /
Parquet file (``data.path=<file> data.target=<column>``; categorical columns are the non-numeric ones unless
``data.categorical=[...]`` names them); or ``env_states``: rows are the proprioceptive states of the env's
offline dataset (``env=dmc|ogbench``; no label: T-JEPA pretrained there is ``encoder=t_jepa`` for agents).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from tensordict import TensorDict

from envs.common import cfg_get

BUNDLED = ("breast_cancer", "diabetes", "wine", "digits")
GENERATED = ("synthetic_mixed", "synthetic_latent", "env_states")
TASKS = ("auto", "classification", "regression")


def _bundled(name: str):
    """(features DataFrame, target Series, task) of a scikit-learn bundled table."""
    from sklearn import datasets

    loader = {
        "breast_cancer": datasets.load_breast_cancer,
        "diabetes": datasets.load_diabetes,
        "wine": datasets.load_wine,
        "digits": datasets.load_digits,
    }[name]
    bunch = loader(as_frame=True)
    return bunch.data, bunch.target, "regression" if name == "diabetes" else "classification"


def synthetic_mixed(rows: int = 2000, seed: int = 0):
    """A mixed table with a planted label: 6 numeric columns (two of them informative), 3 categorical columns
    (one informative), class = [x0 + x1 · 0.5 + effect(colour) > 0]; 2 % of the numeric cells are missing."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(rows, 6))
    colour = rng.choice(["red", "green", "blue", "black"], size=rows)
    shape = rng.choice(["circle", "square"], size=rows)
    city = rng.choice([f"city{i}" for i in range(12)], size=rows)
    effect = pd.Series(colour).map({"red": 1.0, "green": -1.0, "blue": 0.5, "black": -0.5}).to_numpy()
    label = (numeric[:, 0] + 0.5 * numeric[:, 1] + effect + 0.3 * rng.normal(size=rows) > 0).astype(np.int64)
    numeric[rng.random(numeric.shape) < 0.02] = np.nan
    frame = pd.DataFrame(numeric, columns=[f"x{i}" for i in range(6)])
    frame["colour"], frame["shape"], frame["city"] = colour, shape, city
    return frame, pd.Series(label, name="label"), "classification"


def synthetic_latent(rows: int = 2000, seed: int = 0, factors: int = 4, numeric: int = 24, categorical: int = 4):
    """A table whose columns are noisy views of a few hidden factors, the structure in which predicting masked
    columns from the others can help (the setting the T-JEPA paper targets): ``factors`` factors z ~ N(0, I);
    each numeric column is tanh of a random mix of z plus noise (σ 0.5, so one column says little alone); each
    categorical column (6 levels) is the argmax of a random mix of z plus Gumbel noise; the class is
    [z0 + z1 − z2 > 0]. The mixes are fixed (drawn from seed 1234) and the rows come from ``seed``."""
    import pandas as pd

    mixes = np.random.default_rng(1234)
    numeric_mix = mixes.normal(size=(factors, numeric)) / np.sqrt(factors)
    level_mix = mixes.normal(size=(categorical, factors, 6))
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(rows, factors))
    frame = pd.DataFrame(
        np.tanh(z @ numeric_mix) + 0.5 * rng.normal(size=(rows, numeric)), columns=[f"x{i}" for i in range(numeric)]
    )
    for j in range(categorical):
        logits = 1.5 * z @ level_mix[j] + rng.gumbel(size=(rows, 6))
        frame[f"c{j}"] = np.array([f"level{k}" for k in range(6)])[logits.argmax(1)]
    label = (z[:, 0] + z[:, 1] - z[:, 2] > 0).astype(np.int64)
    return frame, pd.Series(label, name="label"), "classification"


SYNTHETIC = {"synthetic_mixed": synthetic_mixed, "synthetic_latent": synthetic_latent}  # generated here, by data.name


def _read_file(path: Path, target: str | None):
    import pandas as pd

    if not path.exists():
        raise FileNotFoundError(f"data.path={path} does not exist: give a CSV or Parquet file")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    elif suffix in (".csv", ".tsv", ".txt"):
        frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    else:
        raise ValueError(f"data.path={path}: unknown table format {suffix!r}; use .csv, .tsv or .parquet")
    if not target:
        raise ValueError(f"data.path={path} needs data.target=<label column>; its columns are {list(frame.columns)}")
    if target not in frame.columns:
        raise ValueError(f"data.target={target!r} is not a column of {path}; its columns are {list(frame.columns)}")
    return frame.drop(columns=[target]), frame[target], "auto"


def _task_of(target, task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"unknown data.task={task!r}; choose one of {list(TASKS)}")
    if task != "auto":
        return task
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)
    integral = numeric and np.allclose(target.dropna(), np.round(target.dropna()))
    return "regression" if numeric and not (integral and target.nunique() <= 20) else "classification"


def _split(n: int, labels: np.ndarray | None, val_fraction: float, test_fraction: float, seed: int):
    from sklearn.model_selection import train_test_split

    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            f"data.val_fraction={val_fraction} and data.test_fraction={test_fraction} must be in (0, 1) and sum to less than 1"
        )
    rows = np.arange(n)
    rest, test = train_test_split(rows, test_size=test_fraction, random_state=seed, stratify=labels)
    train, val = train_test_split(
        rest,
        test_size=val_fraction / (1 - test_fraction),
        random_state=seed + 1,
        stratify=None if labels is None else labels[rest],
    )
    return np.sort(train), np.sort(val), np.sort(test)


def env_state_table(data_cfg: Mapping[str, Any], dataset_cfg: Any) -> tuple[TensorDict, TensorDict, TensorDict, dict[str, Any]]:
    """``data.rows`` states sampled from the offline dataset's train split (val / test: a sixth each from its
    validation episodes), standardised with the train rows' statistics; no ``target``."""
    from envs import make_dataset

    if dataset_cfg is None:
        raise ValueError("data.name=env_states reads the env's offline dataset: give env=dmc|ogbench")
    train_rb, val_rb = make_dataset(dataset_cfg)
    rows = int(data_cfg.get("rows", 20000))

    def states(buffer, n: int) -> torch.Tensor:
        observation = buffer.sample(n)["observation"] if len(buffer) else torch.zeros(0)
        if observation.ndim != 2:
            raise ValueError(
                f"data.name=env_states needs state observations, got shape {list(observation.shape[1:])}: use env.obs=states"
            )
        return observation.double()

    train_x, held_out = states(train_rb, rows), states(val_rb, 2 * max(rows // 6, 1))
    mean, std = train_x.mean(0), train_x.std(0)
    std = torch.where(std > 1e-12, std, torch.ones_like(std))

    def part(x: torch.Tensor) -> TensorDict:
        return TensorDict({"observation": ((x - mean) / std).float()}, batch_size=[len(x)])

    half = len(held_out) // 2
    train, val, test = part(train_x), part(held_out[:half]), part(held_out[half:])
    name = str(cfg_get(dataset_cfg, "name") or cfg_get(dataset_cfg, "domain") or "env")
    info = {
        "name": f"{name}_states",
        "task": "none",
        "rows": len(train) + len(val) + len(test),
        "numeric_columns": [f"s{i}" for i in range(train_x.shape[1])],
        "categorical_columns": [],
        "cardinalities": [],
        "numeric_mean": mean.tolist(),
        "numeric_std": std.tolist(),
        "categories": {},
        "sizes": {"train": len(train), "val": len(val), "test": len(test)},
    }
    return train, val, test, info


def load_table(data_cfg: Mapping[str, Any], dataset_cfg: Any = None) -> tuple[TensorDict, TensorDict, TensorDict, dict[str, Any]]:
    """(train, val, test, info) of ``data=table`` (see the module docstring)."""
    import pandas as pd

    name, path = str(data_cfg.get("name")), data_cfg.get("path")
    if name == "env_states" and not path:
        return env_state_table(data_cfg, dataset_cfg)
    if path:
        features, target, task = _read_file(Path(str(path)).expanduser(), data_cfg.get("target"))
        name = Path(str(path)).stem
    elif name in BUNDLED:
        features, target, task = _bundled(name)
    elif name in SYNTHETIC:
        features, target, task = SYNTHETIC[name](int(data_cfg.get("rows", 2000)), int(data_cfg.get("seed", 0)))
    else:
        raise ValueError(
            f"unknown data.name={name!r}: choose a bundled table {list(BUNDLED + GENERATED)}, or give a "
            "CSV/Parquet file with data.path=<file> data.target=<column>"
        )
    wanted = str(data_cfg.get("task", "auto"))  # an explicit data.task wins over the table's own
    task = _task_of(target, wanted if wanted != "auto" or task == "auto" else task)
    keep = target.notna().to_numpy()
    features, target = features[keep].reset_index(drop=True), target[keep].reset_index(drop=True)

    categorical = data_cfg.get("categorical")
    if categorical is None:  # non-numeric (and boolean) columns
        categorical = [
            c
            for c in features.columns
            if not pd.api.types.is_numeric_dtype(features[c]) or pd.api.types.is_bool_dtype(features[c])
        ]
    categorical = [str(c) for c in categorical]
    unknown = [c for c in categorical if c not in features.columns]
    if unknown:
        raise ValueError(f"data.categorical names {unknown}, which are not columns; the columns are {list(features.columns)}")
    numeric = [c for c in features.columns if c not in categorical]
    if not numeric and not categorical:
        raise ValueError(f"table {name} has no feature columns")
    bad = [c for c in numeric if not pd.api.types.is_numeric_dtype(features[c])]
    if bad:
        raise ValueError(f"columns {bad} are not numeric: list them in data.categorical")

    if task == "classification":
        classes, labels = np.unique(target.astype(str) if target.dtype == object else target.to_numpy(), return_inverse=True)
        y = torch.as_tensor(labels, dtype=torch.long)
    else:
        classes, y = None, torch.tensor(target.to_numpy(dtype=np.float64), dtype=torch.float64)
    val_fraction, test_fraction = float(data_cfg.get("val_fraction", 0.15)), float(data_cfg.get("test_fraction", 0.15))
    split = _split(len(target), None if classes is None else y.numpy(), val_fraction, test_fraction, int(data_cfg.get("seed", 0)))
    train_rows = split[0]

    # numeric: train-mean imputation, then train standardisation
    x = features[numeric].to_numpy(dtype=np.float64) if numeric else np.zeros((len(target), 0))
    mean = np.nanmean(x[train_rows], axis=0) if numeric else np.zeros(0)
    mean = np.where(np.isnan(mean), 0.0, mean)
    x = np.where(np.isnan(x), mean, x)
    std = x[train_rows].std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    x = torch.as_tensor((x - mean) / std, dtype=torch.float32)

    # categorical: codes of the train split's categories, 0 = missing / unseen
    codes, cardinalities, vocab = [], [], {}
    for c in categorical:
        column = features[c].astype("string")
        seen = sorted(set(column.iloc[train_rows].dropna()))
        lookup = {v: i + 1 for i, v in enumerate(seen)}
        codes.append(column.map(lookup).fillna(0).astype("int64").to_numpy())
        cardinalities.append(len(seen) + 1)
        vocab[c] = seen
    cat = torch.as_tensor(np.stack(codes, axis=1), dtype=torch.long) if categorical else None

    info: dict[str, Any] = {
        "name": name,
        "task": task,
        "rows": len(target),
        "numeric_columns": numeric,
        "categorical_columns": categorical,
        "cardinalities": cardinalities,
        "numeric_mean": mean.tolist(),
        "numeric_std": std.tolist(),
        "categories": vocab,
    }
    if task == "classification":
        info.update(num_classes=len(classes), classes=[str(c) for c in classes])
    else:  # standardise the target with the train split's statistics
        info.update(target_mean=y[train_rows].mean().item(), target_std=max(y[train_rows].std().item(), 1e-12))
        y = ((y - info["target_mean"]) / info["target_std"]).float()

    def part(rows: np.ndarray) -> TensorDict:
        index = torch.as_tensor(rows)
        td = {"observation": x[index], "target": y[index]}
        if cat is not None:
            td["categorical"] = cat[index]
        return TensorDict(td, batch_size=[len(rows)])

    train, val, test = (part(rows) for rows in split)
    info.update(sizes={"train": len(train), "val": len(val), "test": len(test)})
    return train, val, test, info


def raw_features(split: TensorDict, cardinalities: list[int]) -> torch.Tensor:
    """The baselines' input: standardised numeric columns and one-hot categorical codes, f32 [N, D_num + Σ K_j]."""
    parts = [split["observation"]]
    if "categorical" in split.keys():
        parts += [torch.nn.functional.one_hot(split["categorical"][:, j], k).float() for j, k in enumerate(cardinalities)]
    return torch.cat(parts, dim=1)
