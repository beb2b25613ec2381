"""The tag vocabulary: every ``augplat.*`` run tag key, and the values of ``augplat.kind``.

Modules import this as ``from augplat.tracking import tags as tag`` (``tag.KIND``), since
``tags`` is everywhere a run's tag mapping. A key is spelled here once, so a search
(:func:`augplat.tracking.find_runs`) and the run that set the tag cannot disagree.
"""

from __future__ import annotations

from augplat.runtime.liveness import HOST_TAG, PID_START_TAG, PID_TAG

PREFIX = "augplat."

# What a run is.
KIND = "augplat.kind"
KIND_TRAIN = "train"
KIND_ENSEMBLE = "ensemble"
KIND_GAN = "gan"
KIND_EXPAND = "expand"
KIND_STUDY = "study"
KIND_COMPARE = "compare"
KIND_PIPELINE = "pipeline"
KIND_PREPARE = "prepare"

# Who runs it (runtime.liveness owns these; the run's process writes them).
HOST = HOST_TAG
PID = PID_TAG
PID_START = PID_START_TAG
ENDED_BY = "augplat.ended_by"

# Data it used or made.
DATASET = "augplat.dataset"
DATASET_DIGEST = "augplat.dataset_digest"
DATASET_B = "augplat.dataset_b"
DATASET_B_DIGEST = "augplat.dataset_b_digest"
SOURCE_DATASET = "augplat.source_dataset"
SOURCE_DIGEST = "augplat.source_digest"
EXPANDED_DATASET = "augplat.expanded_dataset"
EXPAND_MODE = "augplat.expand_mode"
EXPAND_STRATEGY = "augplat.expand_strategy"

# Training runs.
MODEL = "augplat.model"
AUG = "augplat.aug"
TRAIN_ON = "augplat.train_on"
TEST_MODE = "augplat.test_mode"
STRATEGY = "augplat.strategy"
SEED = "augplat.seed"
SEED_GROUP = "augplat.seed_group"
SEED_INDEX = "augplat.seed_index"
FOLD = "augplat.fold"
FOLD_OF = "augplat.fold_of"
FOLD_GROUP = "augplat.fold_group"
FOLD_INDEX = "augplat.fold_index"
GENERATOR = "augplat.generator"
FOREIGN_GENERATOR = "augplat.foreign_generator"
FOREIGN_GENERATOR_REASON = "augplat.foreign_generator_reason"

# Generator runs.
GAN_METHOD = "augplat.gan_method"
GAN_NAME = "augplat.gan_name"
GAN_FINGERPRINT = "augplat.gan_fingerprint"
GAN_COMPLETE = "augplat.gan_complete"
CONDITION_KIND = "augplat.condition_kind"
TRAIN_HASHES_DIGEST = "augplat.train_hashes_digest"
EVAL_PREFIX = "augplat.eval_"  # quality evaluations: augplat.eval_<tag without augplat.>
EVAL_CLASSIFIER = "augplat.eval_classifier"
EVAL_DATASET = "augplat.eval_dataset"
EVAL_DATASET_DIGEST = "augplat.eval_dataset_digest"

# Ensembles.
RULE = "augplat.rule"
MEMBERS = "augplat.members"
MEMBER_PREFIX = "augplat.member."  # + index

# Studies.
STUDY = "augplat.study"
TRIAL = "augplat.trial"
TRIAL_STATE = "augplat.trial_state"
BACKEND = "augplat.backend"
BASELINE = "augplat.baseline"
TUNE = "augplat.tune"
FINAL = "augplat.final"
CELL = "augplat.cell"
ARM = "augplat.arm"
FRACTION = "augplat.fraction"
VERDICT_PREFIX = "augplat.verdict."  # + arm label

# Compare runs.
METRIC = "augplat.metric"

# Pipelines and launched MLflow Projects steps.
PIPELINE = "augplat.pipeline"
INPUTS = "augplat.inputs"
STEP = "augplat.step"
STEP_KEY = "augplat.step_key"
STEP_PREFIX = "augplat.step."  # + step name: the step's run id, on the pipeline run
REUSED_PREFIX = "augplat.reused."  # + step name
PROJECT = "augplat.project"
CODE_VERSION = "augplat.code_version"
ENV_MANAGER = "augplat.env_manager"

# MLflow's own.
PARENT_RUN_ID = "mlflow.parentRunId"
RUN_NAME = "mlflow.runName"
