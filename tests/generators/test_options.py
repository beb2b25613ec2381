"""Each generator method declares its own options model; the flat GanConfig is composed of them."""

import inspect
import os
import re
import subprocess
import sys

import pytest

from augplat.generators import GAN_METHODS, GanConfig, trainable_methods
from augplat.generators.config import GanCommonOptions
from augplat.generators.registry import method_class


@pytest.mark.parametrize("name", trainable_methods())
def test_a_method_reads_only_the_common_options_and_its_own(name):
    cls = method_class(name)
    assert cls.options is not None, f"{name} declares no options model"
    assert issubclass(GanConfig, cls.options), "GanConfig must include every method's options"
    read = set(
        re.findall(r"\bcfg\.([a-z_][a-z0-9_]*)\b", inspect.getsource(inspect.getmodule(cls)))
    )
    fields = read & set(GanConfig.model_fields)
    allowed = set(GanCommonOptions.model_fields) | set(cls.options.model_fields)
    assert fields, f"{name} reads no config field: the check would be empty"
    assert fields <= allowed, f"{name} reads another method's options: {fields - allowed}"


def test_every_options_model_belongs_to_exactly_one_method():
    owners = {}
    for name in trainable_methods():
        owners.setdefault(method_class(name).options, []).append(name)
    groups = GanConfig.option_groups()
    models = {m for m in GanConfig.__mro__ if m.__dict__.get("heading")}
    assert models == set(owners), "an options model without a method, or a method without one"
    assert all(len(v) == 1 for v in owners.values()), owners
    for model, (name,) in owners.items():
        assert all(groups[field] == name for field in model.model_fields)
    assert not set(groups) & set(GanCommonOptions.model_fields)
    assert "imported" in GAN_METHODS.names() and method_class("imported").options is None


def test_flat_keys_and_fingerprint_are_unchanged_by_the_composition():
    from augplat.generators.config import fingerprint

    cfg = GanConfig.model_validate({"method": "cyclegan", "lambda_cycle": 5, "z_dim": 64})
    assert cfg.lambda_cycle == 5 and cfg.z_dim == 64 and cfg.mix_prob == 0.25
    with pytest.raises(Exception, match="lambda_cyc"):
        GanConfig.model_validate({"lambda_cyc": 5})  # still strict
    # Same keys and values as one flat model: the fingerprint hashes sorted keys.
    flat = {k: getattr(cfg, k) for k in GanConfig.model_fields}
    assert cfg.model_dump() == flat
    assert fingerprint(cfg, {"a": "x"}) == fingerprint(GanConfig.model_validate(flat), {"a": "x"})


def test_gan_train_help_marks_each_methods_own_options():
    out = subprocess.run(
        [sys.executable, "-m", "augplat", "gan", "train", "--help"],
        capture_output=True, text=True, check=True, env={**os.environ, "COLUMNS": "200"},
    ).stdout  # fmt: skip
    assert re.search(r"--z-dim <int>\s+\[cgan\] Noise size", out)
    assert re.search(r"--mix-prob <float>\s+\[stargan\]", out)
    assert re.search(r"--pool-size <int>\s+\[cyclegan\]", out)
    assert not re.search(r"--lr <float>\s+\[", out)  # common options carry no method name
