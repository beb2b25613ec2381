"""Arms, fractions and the verdict's helpers on constructed inputs (no training)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from augplat.study.arms import arm_search_spec, shared_plans
from augplat.study.final_spec import FinalSpec, apply_overrides
from augplat.study.spec import StudySpec
from augplat.study.verdict import real_image_equivalent

SPACE = {
    "lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
    "aug": {"type": "categorical", "choices": ["classic", "gan", "both"]},
    "gan_prob": {"type": "float", "low": 0.0, "high": 1.0, "when": {"aug": ["gan", "both"]}},
    "aug_strength": {
        "type": "float",
        "low": 0.2,
        "high": 1.0,
        "when": {"aug": ["classic", "both"]},
    },
}


def _spec(**final) -> StudySpec:
    return StudySpec.model_validate(
        {
            "name": "s",
            "train": {"data": "digits", "model": "simplecnn"},
            "space": SPACE,
            "final": final,
        }
    )


def test_generative_off_switches_every_generative_part_off():
    winner = {"aug": "both", "gan_prob": 0.7, "generator": "g1", "train_on": "united"}
    off = apply_overrides(winner, {"generative": "off"})
    assert off == {"aug": "classic", "train_on": "original", "generator": None}
    assert apply_overrides({"aug": "gan"}, {"generative": "off"})["aug"] == "none"
    assert apply_overrides({"aug": "gan"}, {"generative": "off", "aug": "classic"})["aug"] == (
        "classic"
    )


def test_default_arms_depend_on_whether_a_generator_can_be_used():
    spec = _spec()
    assert spec.final.resolved_arms(True) == (
        {"tuned": {}, "no_gan": {"generative": "off"}},
        "no_gan",
    )
    assert spec.final.resolved_arms(False) == ({"tuned": {}, "none": {"aug": "none"}}, "none")
    assert spec.final.seed_list == [0, 1, 2, 3, 4, 5]  # six by default


def test_shared_plans_put_the_arm_over_the_winner():
    plans = shared_plans(
        {
            "tuned": {},
            "none": {"generative": "off", "aug": "none"},
            "v": {"ensemble": ["tuned", "none"]},
        },
        {"lr": 0.01, "aug": "gan", "gan_prob": 0.4},
        {"model": "simplecnn"},
        5,
    )
    assert plans["tuned"].params == {
        "model": "simplecnn",
        "lr": 0.01,
        "aug": "gan",
        "gan_prob": 0.4,
    }
    assert plans["none"].params == {"model": "simplecnn", "lr": 0.01, "aug": "none",
                                    "generator": None}  # fmt: skip
    assert plans["v"].ensemble and plans["v"].params == {}


def test_generative_off_with_a_single_generative_choice_fixes_it():
    spec = _spec()
    spec.space["aug"] = spec.space["aug"].model_copy(update={"choices": ["gan"]})
    sub = arm_search_spec(spec, "no_gan", {"generative": "off"})
    assert "aug" not in sub.space and sub.train["aug"] == "none"  # as shared tuning does


def test_per_arm_space_fixes_the_arm_and_decides_its_conditions():
    spec = _spec()
    classic = arm_search_spec(spec, "classic", {"generative": "off", "aug": "classic"})
    assert list(classic.space) == ["lr", "aug_strength"]  # gan_prob's condition cannot hold
    assert classic.space["aug_strength"].when == {}
    assert classic.train["aug"] == "classic" and classic.name == "s.classic"
    assert classic.experiment_name == spec.experiment_name  # trials land in the study's experiment
    no_gan = arm_search_spec(spec, "no_gan", {"generative": "off"})
    assert no_gan.space["aug"].choices == ["classic", "none"]  # gan → none, both → classic
    assert "gan_prob" not in no_gan.space  # a generator-only setting leaves the space


@pytest.mark.parametrize(
    ("final", "fragment"),
    [
        ({"arms": {"a": {"epochz": 3}}}, "arms.a: unknown key 'epochz'"),
        ({"arms": {"a": {"lr": -1}}}, "arms.a.lr: Input should be greater than 0"),
        ({"arms": {"a": {}}, "baseline": "b"}, "baseline: 'b' is not among the arms (a)"),
        ({"fractions": [0.5, 1.01]}, "fractions: 1.01 is outside (0, 1]"),
        ({"arms": {"a": {}, "e": {"ensemble": ["a"]}}}, "a list of at least two arms"),
        ({"arms": {"a": {}, "e": {"ensemble": ["a", "x"]}}}, "unknown arm 'x'"),
        ({"arms": {"a": {}, "b": {}, "e": {"ensemble": ["a", "b"], "rule": "mean"}}}, "rule"),
        ({"seeds": 0}, "at least one seed"),
        ({"seeds": [1, 1]}, "different seeds"),
    ],
)
def test_bad_final_sections(final, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        FinalSpec.model_validate(final)


def test_real_image_equivalent_by_hand():
    curve = [(100, 0.60), (200, 0.70), (400, 0.80)]
    # 0.75 is half-way from 200 to 400 in log(images): sqrt(200 · 400) = 282.84
    n, text = real_image_equivalent(curve, 0.75)
    assert n == pytest.approx(math.sqrt(200 * 400)) and text == "283"
    assert real_image_equivalent(curve, 0.70)[0] == pytest.approx(200)
    assert math.isnan(real_image_equivalent(curve, 0.9)[0])
    assert "beyond the measured curve" in real_image_equivalent(curve, 0.9)[1]
    assert "at or below" in real_image_equivalent(curve, 0.5)[1]


def test_nested_subsets_keep_every_class_and_nest():
    from augplat.data.subset import nested_indices

    labels = np.repeat(np.arange(4), [10, 20, 40, 3])
    small, large = nested_indices(labels, 0.1, 7), nested_indices(labels, 0.5, 7)
    assert set(small) < set(large)
    assert np.bincount(labels[small], minlength=4).tolist() == [1, 2, 4, 1]  # ≥ 1 per class
    assert np.bincount(labels[large], minlength=4).tolist() == [5, 10, 20, 2]
    assert np.array_equal(nested_indices(labels, 0.5, 7), large)  # seeded


@pytest.mark.parametrize(("per_seed", "want"), [(False, 1), (True, 3)])
def test_generator_per_seed_gives_each_seed_its_own_generator(monkeypatch, per_seed, want):
    from augplat.runtime.progress import Reporter
    from augplat.study.final_inputs import FinalInputs

    spec = _spec(generator_per_seed=per_seed, fractions=[0.5, 1.0])
    spec.gan = {"method": "cgan"}
    inputs = FinalInputs(spec, None, Reporter())
    trained = []

    def train(fraction, seed):
        trained.append((fraction, seed))
        return f"gan-{fraction}-{seed}"

    monkeypatch.setattr(inputs, "_train_or_reuse", train)
    runs = {inputs.generator(0.5, seed) for seed in (0, 1, 2)}
    assert len(runs) == want and len(trained) == want  # each asked once, then cached
    assert inputs.generator(1.0, 0) != inputs.generator(0.5, 0)  # every fraction its own


def test_report_document_renders_tables_and_embeds_images(tmp_path):
    from augplat.study.report_doc import Document

    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    doc = Document("T")
    doc.heading("Answer")
    doc.table(["arm", "mean"], [["a|b", 0.5], ["c", float("nan")]])
    doc.image(png, "curve")
    md, page = doc.markdown(), doc.html()
    assert "| a\\|b | 0.5 |" in md and "| c | — |" in md and "![curve](x.png)" in md
    assert "<td>a|b</td>" in page and 'src="data:image/png;base64,iVBORw0KGgpmYWtl"' in page
