"""hib_tf: Hedged Instance Embeddings (Oh et al., ICLR 2019) in TensorFlow 2 / Keras 3."""

import setuptools

setuptools.setup(
    name="hib_tf",
    version="0.1.0",
    description="Hedged Instance Embeddings: probabilistic embeddings with TensorFlow "
    "Probability, and the N-digit MNIST dataset for TFDS.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10,<3.13",
    # The dataset folder keeps the `tfds new` layout under datasets/ but installs as the
    # top-level package `n_digit_mnist` (the module name `tfds build datasets/n_digit_mnist`
    # gives it too): never as `datasets`, which would shadow Hugging Face's package.
    packages=setuptools.find_packages(include=["hib_tf", "hib_tf.*"]) + ["n_digit_mnist"],
    package_dir={"n_digit_mnist": "datasets/n_digit_mnist"},
    package_data={
        "n_digit_mnist": [
            "README.md",
            "CITATIONS.bib",
            "TAGS.txt",
            "checksums.tsv",
            "dummy_data/README.md",
        ]
    },
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "tf-keras>=2.21,<2.22",
        "tensorflow-probability>=0.25,<0.26",
        "tensorflow-datasets>=4.9.10,<4.10",
        "keras>=3.15,<4",
        "tensorboard>=2.20,<3",
        "matplotlib>=3.8,<4",
        "numpy>=1.26,<3",
        "scipy>=1.13,<2",
        "scikit-learn>=1.5,<2",
        "etils[epath]>=1.7",
        # TFDS 4.9.10 imports these without declaring them.
        "importlib_resources>=6",
        "dill>=0.3.8",
    ],
    entry_points={
        "console_scripts": [
            "hib-train = hib_tf.training.cli:main",
            "hib-evaluate = hib_tf.evaluation.cli:main",
        ]
    },
    extras_require={
        "test": ["pytest>=8,<10"],
        # TFDS 4.9.10's `tfds` command imports Apache Beam and mlcroissant even for
        # `tfds build`; the library itself needs neither.
        "tfds-cli": ["apache-beam>=2.60,<3", "mlcroissant>=1.0,<2"],
    },
)
