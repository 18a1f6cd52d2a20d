"""Source files: reading, validation and the errors a user sees for bad or missing files."""

import gzip
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from conftest import SHARED_DATA, requires_shared_data
from hib_tf.data import fake_sources
from hib_tf.data import recipe
from hib_tf.data import sources
from n_digit_mnist import n_digit_mnist_dataset_builder

TRAIN_IMAGES = sources.MNIST_FILES["train_images"][0]


def test_idx_round_trip_plain_and_gzip(tmp_path):
    images, labels = fake_sources.fake_mnist(20, seed=0)
    fake_sources.write_idx(tmp_path / "images.gz", images)
    fake_sources.write_idx(tmp_path / "labels", labels, compress=False)
    np.testing.assert_array_equal(sources.read_idx(tmp_path / "images.gz"), images)
    np.testing.assert_array_equal(sources.read_idx(tmp_path / "labels"), labels)


def test_truncated_gzip_names_the_file(tmp_path):
    fake_sources.write_idx(tmp_path / "images.gz", fake_sources.fake_mnist(20, 0)[0])
    data = (tmp_path / "images.gz").read_bytes()
    (tmp_path / "images.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(sources.SourceError, match=r"images\.gz is a truncated or corrupt"):
        sources.read_idx(tmp_path / "images.gz")


def test_truncated_idx_names_the_file(tmp_path):
    images = fake_sources.fake_mnist(20, 0)[0]
    fake_sources.write_idx(tmp_path / "images", images, compress=False)
    data = (tmp_path / "images").read_bytes()
    (tmp_path / "images").write_bytes(data[:-5])
    with pytest.raises(sources.SourceError, match=r"images is truncated or corrupt"):
        sources.read_idx(tmp_path / "images")


def test_not_an_idx_file(tmp_path):
    (tmp_path / "x.gz").write_bytes(gzip.compress(b"<html>not found</html>"))
    with pytest.raises(sources.SourceError, match=r"x\.gz is not an MNIST IDX file"):
        sources.read_idx(tmp_path / "x.gz")


def test_full_size_file_with_wrong_bytes_fails_its_checksum(tmp_path):
    length, _ = sources.MNIST_FILES["train_labels"][1:]
    labels = np.zeros(length - 8, np.uint8)
    fake_sources.write_idx(tmp_path / "labels", labels, compress=False)
    with pytest.raises(sources.SourceError, match="wrong SHA-256"):
        sources.read_idx(tmp_path / "labels", sources.MNIST_FILES["train_labels"][1:])


def test_corrupt_table_names_the_file(tmp_path):
    (tmp_path / "t.npz").write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(sources.SourceError, match=r"t\.npz is not a readable"):
        sources.read_index_table(tmp_path / "t.npz", 2, 100)


def test_table_indexing_outside_mnist_is_refused(tmp_path):
    table = sources.IndexTable(np.arange(3), np.full((3, 2, 2), 500))
    fake_sources.write_table(tmp_path / "t.npz", table)
    with pytest.raises(sources.SourceError, match="outside 0 .. 99"):
        sources.read_index_table(tmp_path / "t.npz", 2, 100)


def test_missing_files_are_all_named_with_both_fixes(tmp_path):
    with pytest.raises(sources.SourceError) as error:
        sources.find_sources(tmp_path, [TRAIN_IMAGES, "dataset_mnist_2_number_train.npz"])
    message = str(error.value)
    assert TRAIN_IMAGES in message and "dataset_mnist_2_number_train.npz" in message
    assert "manual_dir" in message and sources.SOURCE_DIR_ENV in message


def test_builder_without_any_source_fails_fast_and_builds_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(sources.SOURCE_DIR_ENV, raising=False)
    monkeypatch.setattr(n_digit_mnist_dataset_builder, "_reachable", lambda url: False)
    builder = tfds.builder("n_digit_mnist/2digit_number", data_dir=tmp_path / "data")
    start = time.monotonic()
    with pytest.raises(sources.SourceError) as error:
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=str(tmp_path / "empty"))
        )
    assert time.monotonic() - start < 30
    message = str(error.value)
    assert TRAIN_IMAGES in message and "dataset_mnist_2_number_test_unseen.npz" in message
    assert "manual_dir" in message and sources.SOURCE_DIR_ENV in message
    assert not list((tmp_path / "data").rglob("*.tfrecord*"))
    assert not builder.is_prepared()


def test_environment_variable_supplies_the_sources(fake_source_dir, tmp_path, monkeypatch):
    folder, _ = fake_source_dir
    monkeypatch.setenv(sources.SOURCE_DIR_ENV, str(folder))
    builder = tfds.builder("n_digit_mnist/2digit_instance", data_dir=tmp_path)
    builder.download_and_prepare()
    assert builder.info.splits["train"].num_examples == 200


def test_checksums_cover_every_download():
    names = [*sources.MNIST_FILENAMES] + [
        sources.table_filename(digits, gap, split)
        for digits in (2, 3)
        for gap in ("number", "instance")
        for split in recipe.split_names(gap)
    ]
    recorded = n_digit_mnist_dataset_builder.Builder.url_infos
    assert {sources.source_url(name) for name in names} == set(recorded)


@requires_shared_data()
def test_recipe_with_official_seed_reproduces_the_standard_tables():
    paths = sources.find_sources(SHARED_DATA, sources.MNIST_FILENAMES)
    labels = {split: sources.read_mnist(paths, split)[1] for split in ("train", "test")}
    tables = recipe.make_index_tables(2, "number", 714, labels["train"], labels["test"])
    for split, table in tables.items():
        standard = sources.read_index_table(
            SHARED_DATA / "n_digit_mnist_standard" / sources.table_filename(2, "number", split),
            2,
            len(labels[split if split == "train" else "test"]),
        )
        np.testing.assert_array_equal(table.numbers, standard.numbers)
        np.testing.assert_array_equal(table.image_ids, standard.image_ids)
