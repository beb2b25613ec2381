"""Multi-step pipelines of MLflow Projects runs with step reuse.

Public surface: :func:`load_pipeline_spec`, :class:`PipelineSpec`, :func:`run_pipeline`,
:class:`PipelineResult`.
"""

from augplat.pipeline.definition import PipelineSpec, load_pipeline_spec
from augplat.pipeline.runner import PipelineResult, run_pipeline

__all__ = ["PipelineResult", "PipelineSpec", "load_pipeline_spec", "run_pipeline"]
