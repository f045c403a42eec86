"""data=table (data/tables.py): bundled tables, user CSV/Parquet files with mixed columns, splits, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from data.tables import load_table, raw_features


def table_cfg(**kwargs):
    return {
        "name": "breast_cancer",
        "path": None,
        "target": None,
        "categorical": None,
        "task": "auto",
        "val_fraction": 0.15,
        "test_fraction": 0.15,
        "seed": 0,
        "rows": 2000,
        **kwargs,
    }


def test_bundled_table_is_split_stratified_and_standardised_with_train_statistics():
    train, val, test, info = load_table(table_cfg(name="wine"))
    assert info["task"] == "classification" and info["num_classes"] == 3 and info["rows"] == 178
    assert len(train) + len(val) + len(test) == 178 and info["sizes"] == {"train": len(train), "val": len(val), "test": len(test)}
    assert abs(len(test) - 0.15 * 178) <= 1
    x = train["observation"]
    torch.testing.assert_close(x.mean(0), torch.zeros(13), atol=1e-5, rtol=0)
    torch.testing.assert_close(x.std(0, unbiased=False), torch.ones(13), atol=1e-4, rtol=0)
    for split in (train, val, test):  # stratified: every class in every split
        assert set(split["target"].tolist()) == {0, 1, 2}
    # the same seed gives the same split, another seed another one
    assert torch.equal(load_table(table_cfg(name="wine"))[2]["observation"], test["observation"])
    assert not torch.equal(load_table(table_cfg(name="wine", seed=1))[2]["observation"], test["observation"])


def test_regression_targets_are_standardised_with_the_train_rows():
    train, val, test, info = load_table(table_cfg(name="diabetes"))
    assert info["task"] == "regression" and "num_classes" not in info
    assert abs(train["target"].mean().item()) < 1e-5 and abs(train["target"].std().item() - 1) < 1e-5
    from sklearn.datasets import load_diabetes

    raw = torch.tensor(load_diabetes().target, dtype=torch.float32)
    restored = test["target"] * info["target_std"] + info["target_mean"]
    assert all(torch.isclose(raw, value, atol=1e-3).any() for value in restored[:10])


def test_a_csv_with_mixed_columns_codes_categories_and_fills_missing_values(tmp_path):
    frame = pd.DataFrame(
        {
            "size": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0] * 4,
            "colour": ["red", "blue", None, "red", "green", "blue", "red", "green", "blue", "red"] * 4,
            "flag": [True, False] * 20,
            "label": ["yes", "no"] * 20,
        }
    )
    path = tmp_path / "shop.csv"
    frame.to_csv(path, index=False)
    train, val, test, info = load_table(table_cfg(path=str(path), target="label", val_fraction=0.25, test_fraction=0.25))
    assert info["name"] == "shop" and info["task"] == "classification" and info["classes"] == ["no", "yes"]
    assert info["numeric_columns"] == ["size"] and info["categorical_columns"] == ["colour", "flag"]
    assert info["categories"]["colour"] == ["blue", "green", "red"]  # codes 1..3; 0 = missing / unseen
    assert info["cardinalities"] == [4, 3]
    rows = torch.cat([s["categorical"] for s in (train, val, test)])
    assert rows.shape[1] == 2 and rows[:, 0].min() == 0 and rows[:, 0].max() == 3  # the missing colour is code 0
    assert not torch.isnan(torch.cat([s["observation"] for s in (train, val, test)])).any()  # NaN → train mean
    features = raw_features(train, info["cardinalities"])
    assert features.shape == (len(train), 1 + 4 + 3)
    torch.testing.assert_close(features[:, 1:].sum(1), torch.full((len(train),), 2.0))  # one-hot per column
    # Parquet reads the same
    frame.to_parquet(tmp_path / "shop.parquet")
    parquet = load_table(table_cfg(path=str(tmp_path / "shop.parquet"), target="label", val_fraction=0.25, test_fraction=0.25))
    assert torch.equal(parquet[0]["categorical"], train["categorical"])


def test_unseen_categories_in_held_out_rows_get_code_zero(tmp_path):
    frame = pd.DataFrame({"x": np.arange(40.0), "kind": ["a"] * 39 + ["zzz"], "y": np.arange(40.0) * 2})
    frame.to_csv(tmp_path / "t.csv", index=False)
    train, val, test, info = load_table(table_cfg(path=str(tmp_path / "t.csv"), target="y"))
    assert info["task"] == "regression"
    held_out = torch.cat([val["categorical"], test["categorical"]])[:, 0]
    in_train = "zzz" in info["categories"]["kind"]
    assert in_train or (held_out == 0).sum() == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "iris_flowers"}, r"unknown data.name='iris_flowers': choose a bundled table"),
        ({"path": "/nonexistent/t.csv", "target": "y"}, r"data.path=/nonexistent/t.csv does not exist"),
        ({"val_fraction": 0.6, "test_fraction": 0.5}, r"must be in \(0, 1\) and sum to less than 1"),
        ({"task": "ranking"}, r"unknown data.task='ranking'"),
    ],
)
def test_bad_table_options_are_clear_errors(kwargs, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        load_table(table_cfg(**kwargs))


def test_file_errors_name_the_columns(tmp_path):
    pd.DataFrame({"a": [1.0, 2.0], "b": ["u", "v"]}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ValueError, match=r"needs data.target=<label column>; its columns are \['a', 'b'\]"):
        load_table(table_cfg(path=str(tmp_path / "t.csv")))
    with pytest.raises(ValueError, match=r"data.target='c' is not a column"):
        load_table(table_cfg(path=str(tmp_path / "t.csv"), target="c"))
    with pytest.raises(ValueError, match=r"data.categorical names \['zz'\], which are not columns"):
        load_table(table_cfg(path=str(tmp_path / "t.csv"), target="a", categorical=["zz"]))
    (tmp_path / "t.xlsx").write_text("")
    with pytest.raises(ValueError, match=r"unknown table format '.xlsx'"):
        load_table(table_cfg(path=str(tmp_path / "t.xlsx"), target="a"))


def test_synthetic_mixed_table_has_its_planted_columns():
    train, val, test, info = load_table(table_cfg(name="synthetic_mixed", rows=300))
    assert info["numeric_columns"] == [f"x{i}" for i in range(6)]
    assert info["categorical_columns"] == ["colour", "shape", "city"] and info["cardinalities"] == [5, 3, 13]
    assert len(train) + len(val) + len(test) == 300


def test_synthetic_latent_table_is_noisy_views_of_its_hidden_factors():
    from data.tables import synthetic_latent

    features, label, task = synthetic_latent(4000, seed=0)
    assert task == "classification" and list(features.columns[:2]) == ["x0", "x1"] and features.shape == (4000, 28)
    assert sorted(features["c0"].unique()) == [f"level{k}" for k in range(6)]
    assert 0.4 < label.mean() < 0.6  # [z0 + z1 - z2 > 0] is balanced
    numeric = features[[f"x{i}" for i in range(24)]].to_numpy()
    # one column alone says little about the class; the columns share the factors, so they correlate
    single = max(abs(np.corrcoef(numeric[:, i], label)[0, 1]) for i in range(24))
    assert single < 0.6
    assert np.abs(np.corrcoef(numeric.T)[np.triu_indices(24, 1)]).mean() > 0.15
    again, _, _ = synthetic_latent(4000, seed=0)
    other, _, _ = synthetic_latent(4000, seed=1)
    assert again.equals(features) and not other.equals(features)  # rows from the seed, mixes fixed
    train, val, test, info = load_table(table_cfg(name="synthetic_latent", rows=300))
    assert info["categorical_columns"] == ["c0", "c1", "c2", "c3"] and info["cardinalities"] == [7] * 4  # + unknown
    assert len(train) + len(val) + len(test) == 300
