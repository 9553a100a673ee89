"""The card's top-level folders as packages of ``storagebench``, found rather than listed, so a new store's
folder (``adapters/<store>/``) needs no edit here: only its entry point in pyproject.toml."""

from setuptools import find_packages, setup

ROOTS = {
    "storagebench": "storagebench",
    "storagebench.adapters": "adapters",
    "storagebench.workloads": "workloads",
    "storagebench.report": "report",
    "storagebench.docker": "docker",
}

setup(
    package_dir=ROOTS,
    packages=[f"{name}.{sub}" if sub else name for name, root in ROOTS.items() for sub in ("", *find_packages(root))],
)
