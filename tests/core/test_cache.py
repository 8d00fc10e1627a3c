"""The SQLite cache both caches are made of (embeddings, languages): it only
ever saves work, in any thread. Damage to it is tested through the embedding
cache (tests/model/test_embed.py) and the language cache (tests/ingest/test_lang.py)."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from stance.core.cache import SqliteCache
from stance.core.errors import InputError


class Notes(SqliteCache):
    table, space_column, value_column = "notes", "kind", "note"
    what, items, filename = "notes cache", "notes", "notes.sqlite"


def test_values_come_back_by_space_and_key(tmp_path):
    cache = Notes(tmp_path / "notes.sqlite")
    cache.put_many("a", {"k1": "one", "k2": "two"})
    cache.put_many("b", {"k1": "other"})
    assert cache.get_many("a", ["k1", "k2", "k3"]) == {"k1": "one", "k2": "two"}
    assert cache.get_many("b", ["k1", "k1"]) == {"k1": "other"}
    cache.close()
    assert Notes(tmp_path / "notes.sqlite").get_many("a", ["k2"]) == {"k2": "two"}


def test_one_cache_serves_every_thread_of_a_worker(tmp_path):
    """A Dask worker with --nthreads 4 shares one loaded model, and its cache."""
    cache = Notes(tmp_path / "notes.sqlite")  # opened in this thread

    def work(t):
        for i in range(50):
            cache.put_many("s", {f"{t}-{i}": f"v{t}.{i}"})
            assert cache.get_many("s", [f"{t}-{i}"]) == {f"{t}-{i}": f"v{t}.{i}"}
        return t

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert sorted(pool.map(work, range(4))) == [0, 1, 2, 3]
    keys = [f"{t}-{i}" for t in range(4) for i in range(50)]
    assert len(cache.get_many("s", keys)) == 200


def test_a_cache_folder_that_is_a_file_is_an_input_error(tmp_path):
    afile = tmp_path / "cache"
    afile.write_text("a file, not a folder")
    with pytest.raises(InputError, match="cache folder is a file") as err:
        Notes(afile / "notes.sqlite")
    assert str(afile) in str(err.value)
    assert afile.read_text() == "a file, not a folder"
