"""Shared fixtures: fake N-digit MNIST sources, and the real ones when ../shared is beside us."""

import pathlib

import pytest
import tensorflow_datasets as tfds

from hib_tf.data import fake_sources

SHARED_DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def fake_source_dir(tmp_path_factory):
    """A folder of fake MNIST IDX files and index tables; returns (folder, fake MNIST)."""
    folder = tmp_path_factory.mktemp("fake_sources")
    mnist = fake_sources.write_fake_sources(folder)
    return folder, mnist


@pytest.fixture(scope="session")
def fake_builder(fake_source_dir, tmp_path_factory):
    """The 2digit_number builder, prepared from the fake sources."""
    folder, _ = fake_source_dir
    builder = tfds.builder("n_digit_mnist/2digit_number", data_dir=tmp_path_factory.mktemp("tfds"))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(folder))
    )
    return builder


def requires_shared_data():
    return pytest.mark.skipif(
        not (SHARED_DATA / "mnist").exists(),
        reason=f"{SHARED_DATA} (MNIST and the official tables) not found",
    )
