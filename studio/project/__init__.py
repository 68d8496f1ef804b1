"""Project files: a network and its settings as ``<name>.studio.json``, runs in ``<name>.runs/``.

See :mod:`studio.project.io` and ``docs/file-format.md``. Imports neither Qt nor TensorFlow.
"""

from studio.project.io import (
    ERROR_KINDS,
    FORMAT,
    FORMAT_VERSION,
    MIGRATIONS,
    PROJECT_SUFFIX,
    RUNS_SUFFIX,
    Project,
    ProjectError,
    default_filename,
    dumps_project,
    graph_from_dict,
    graph_to_dict,
    load_project,
    loads_project,
    migrate,
    project_basename,
    project_from_dict,
    project_to_dict,
    runs_dir,
    save_project,
)

__all__ = [
    "ERROR_KINDS",
    "FORMAT",
    "FORMAT_VERSION",
    "MIGRATIONS",
    "PROJECT_SUFFIX",
    "RUNS_SUFFIX",
    "Project",
    "ProjectError",
    "default_filename",
    "dumps_project",
    "graph_from_dict",
    "graph_to_dict",
    "load_project",
    "loads_project",
    "migrate",
    "project_basename",
    "project_from_dict",
    "project_to_dict",
    "runs_dir",
    "save_project",
]
