"""Config: defaults, YAML, dotted overrides, short flags, and one-line errors for bad keys and values."""

import pytest

from alignkit import config as cfg
from alignkit.errors import UserError


def test_defaults_work_and_every_field_is_documented():
    config = cfg.PretrainConfig()
    assert config.model.name_or_path == "tiny" and config.data.path == "demo"
    for key, info in cfg.fields_of(cfg.PretrainConfig).items():
        assert info.description, f"{key} has no doc"


def test_dotted_keys_short_flags_and_booleans():
    config = cfg.resolve(
        cfg.PretrainConfig,
        ["--optim.lr", "3e-4", "--batch-size=64", "--model", "small", "--run.plots", "false", "--overwrite"],
    )
    assert config.optim.lr == pytest.approx(3e-4)
    assert config.run.batch_size == 64
    assert config.model.name_or_path == "small"
    assert config.run.plots is False and config.run.overwrite is True


def test_hyphens_and_underscores_are_the_same_key():
    config = cfg.resolve(cfg.PretrainConfig, ["--optim.weight-decay", "0.5", "--run.micro_batch_size", "2"])
    assert config.optim.weight_decay == 0.5 and config.run.micro_batch_size == 2


def test_yaml_file_then_cli_override(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lr: 0.01\n  warmup_steps: 7\nrun:\n  seed: 3\n")
    config = cfg.resolve(cfg.PretrainConfig, ["--config", str(path), "--lr", "0.02"])
    assert config.optim.lr == 0.02 and config.optim.warmup_steps == 7 and config.run.seed == 3


def test_unknown_key_names_it_and_the_nearest_valid_keys():
    with pytest.raises(UserError) as error:
        cfg.resolve(cfg.PretrainConfig, ["--optim.weight_decai", "1"])
    message = str(error.value)
    assert "optim.weight_decai" in message and "--optim.weight_decay" in message


def test_unknown_key_in_yaml_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("run:\n  max_stepz: 3\n")
    with pytest.raises(UserError, match=r"bad\.yaml.*run\.max_stepz.*--run\.max_steps"):
        cfg.resolve(cfg.PretrainConfig, ["--config", str(path)])


def test_wrong_type_names_the_key_and_the_value():
    with pytest.raises(UserError, match=r"run\.batch_size.*'many'"):
        cfg.resolve(cfg.PretrainConfig, ["--batch-size", "many"])
    with pytest.raises(UserError, match=r"optim\.schedule"):
        cfg.resolve(cfg.PretrainConfig, ["--optim.schedule", "triangle"])


def test_resume_starts_from_the_saved_config(tmp_path):
    saved = cfg.PretrainConfig(run=cfg.RunConfig(output_dir=str(tmp_path), batch_size=12, seed=9))
    (tmp_path / "config.yaml").write_text(cfg.dump(saved))
    config = cfg.resolve(cfg.PretrainConfig, ["--output-dir", str(tmp_path), "--resume", "--max-steps", "50"])
    assert config.run.batch_size == 12 and config.run.seed == 9 and config.run.max_steps == 50
    assert config.run.resume is True


def test_help_lists_every_key_with_default():
    rows = cfg.help_rows(cfg.PretrainConfig)
    options = {row[0]: row for row in rows}
    assert options["--optim.lr"][1] == "--lr" and options["--optim.lr"][3] == "0.003"
    stages = (cfg.PretrainConfig, cfg.SFTConfig, cfg.ClassifyConfig)
    assert set(cfg.SHORT_FLAGS.values()) <= {row[0][2:] for stage in stages for row in cfg.help_rows(stage)}


def test_none_is_a_string_where_the_key_is_a_string_and_null_where_it_may_be_null():
    config = cfg.resolve(cfg.ClassifyConfig, ["--freeze", "none", "--max-steps", "none", "--data.eval-path", "null"])
    assert config.head.freeze == "none" and config.run.max_steps is None and config.data.eval_path is None


def test_overriding_one_key_keeps_the_stage_defaults_of_its_section():
    stage_default = cfg.PretrainConfig().run
    assert stage_default.batch_size != cfg.RunConfig().batch_size  # the stage has its own default
    config = cfg.resolve(cfg.PretrainConfig, ["--run.progress", "false", "--optim.beta1", "0.8"])
    assert config.run.batch_size == stage_default.batch_size and config.run.epochs == stage_default.epochs
    assert config.optim.lr == cfg.PretrainConfig().optim.lr


@pytest.mark.parametrize(
    "name, model",
    [
        ("pretrain", cfg.PretrainConfig),
        ("sft", cfg.SFTConfig),
        ("classify", cfg.ClassifyConfig),
        ("rm", cfg.RewardConfig),
        ("ppo", cfg.PPOConfig),
        ("dpo", cfg.DPOConfig),
        ("kto", cfg.KTOConfig),
        ("grpo", cfg.GRPOConfig),
    ],
)
def test_shipped_example_configs_are_valid(name, model):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "configs" / f"{name}.yaml"
    config = cfg.resolve(model, ["--config", str(path)])
    assert config.run.output_dir != model().run.output_dir  # the file was read, not just the defaults


@pytest.mark.parametrize("model", [cfg.SFTConfig, cfg.ClassifyConfig])
def test_every_field_of_every_stage_is_documented(model):
    for key, info in cfg.fields_of(model).items():
        assert info.description, f"{key} has no doc"
