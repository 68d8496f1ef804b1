"""Packaging layout that pyproject.toml cannot say on its own.

The checkout keeps Studio's resources (catalogs, examples, templates, datasets, icons, styles)
in the top-level ``resources/`` folder, which tools, tests and docs refer to. A wheel ships
that folder inside the package as ``studio/_resources/`` (found by ``studio.resources``), by
mapping it onto a data-only package. ``packages.find`` in pyproject.toml cannot add a mapped
package to the ones it finds, so the package list is computed here.
"""

from setuptools import find_namespace_packages, find_packages, setup

# Every folder of resources/ is listed as a (data-only) package: setuptools warns about data
# folders that are not.
RESOURCES = ["studio._resources"] + [
    f"studio._resources.{name}"
    for name in find_namespace_packages(where="resources", exclude=["*__pycache__*"])
]

setup(
    packages=find_packages(include=["studio", "studio.*"]) + RESOURCES,
    package_dir={"studio._resources": "resources"},
    package_data={name: ["*"] for name in RESOURCES},
    exclude_package_data={name: ["*.py[cod]"] for name in RESOURCES},
)
