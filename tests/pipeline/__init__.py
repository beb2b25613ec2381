"""Tests of the multi-step pipeline: definitions, step reuse, end to end."""
