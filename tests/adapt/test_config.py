"""gapviz.adapt.config, the TOML recipe: every key checked, errors name the key and the file, the shipped recipes load."""

from pathlib import Path

import pytest

from gapviz.adapt.config import TrainConfig, config_to_toml, load_config
from gapviz.errors import GapvizError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_and_roundtrip(tmp_path):
    cfg = TrainConfig()
    cfg.model.enc_filters = [8, 16]
    cfg.model.enc_strides = [4, 2]
    cfg.loss.gan = "hinge"
    path = tmp_path / "c.toml"
    path.write_text(config_to_toml(cfg))
    assert load_config(path) == cfg


@pytest.mark.parametrize("name", ["sample.toml", "apogee_mock.toml"])
def test_shipped_recipes_load(name):
    cfg = load_config(ROOT / "train" / name)
    assert cfg.model.kind in ("physical", "cyclestarnet")


@pytest.mark.parametrize("text, words", [
    ("[optim]\nlearning_rate = 1e-3\n", ["[optim] learning_rate", "unknown key"]),
    ("[optim]\nbatch_size = 'big'\n", ["[optim] batch_size", "integer"]),
    ("[optim]\nbatch_size = 1.5\n", ["[optim] batch_size", "integer"]),
    ("[loss]\nlambda_obs = true\n", ["[loss] lambda_obs", "number"]),
    ("[model]\nenc_filters = [8, 'x']\n", ["[model] enc_filters", "integer"]),
    ("[model]\nkind = 'vae'\n", ["[model] kind", "physical"]),
    ("[training]\nseed = 1\n", ["unknown table [training]"]),
    ("[model]\nenc_filters = [8]\nenc_strides = [4, 4]\n", ["enc_filters and enc_strides"]),
    ("[optim\n", ["not valid TOML"]),
])
def test_bad_recipes_name_key_and_file(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(GapvizError) as err:
        load_config(path)
    msg = str(err.value)
    assert str(path) in msg
    for w in words:
        assert w in msg


def test_missing_config_file(tmp_path):
    with pytest.raises(GapvizError, match="no such config file"):
        load_config(tmp_path / "nope.toml")
