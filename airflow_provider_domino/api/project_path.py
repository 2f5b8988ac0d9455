"""The ``owner/name`` form of a Domino project, checked when a DAG is parsed.

A module of its own, so the operators' parse-time validation does not import the API models.
"""

from __future__ import annotations


def split_project_path(project: str) -> tuple[str, str]:
    """Split ``owner/name`` into its two parts; raises ``ValueError`` naming the parameter otherwise."""
    parts = str(project or "").split("/")
    if len(parts) != 2 or not all(part.strip() for part in parts):
        raise ValueError(f"Parameter 'project' must look like 'owner/name', got {project!r}")
    return parts[0].strip(), parts[1].strip()
