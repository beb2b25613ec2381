"""Tests of the MLflow Projects: project files, `augplat launch`, runs from a git remote."""
