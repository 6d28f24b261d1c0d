"""The schedules cache: a directory checked once is read back while its files and the loader's code are
unchanged; any change of a file is loaded and checked afresh; a bad directory is never kept; a damaged or
foreign entry is only a miss; the cache can be turned off."""

import os
import pickle
import shutil
import stat

import pytest

from estimator.core import schedule_cache
from estimator.core.errors import ScheduleError
from estimator.core.schedules import DEFAULT_DIRECTORY, load_schedules
from estimator.core.service import estimate_one


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("ESTIMATOR_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def copy(tmp_path):
    target = tmp_path / "schedules"
    shutil.copytree(DEFAULT_DIRECTORY, target)
    return target


def entries(folder):
    return sorted(folder.glob("schedules-*.pickle"))


def test_a_directory_checked_once_is_read_back_and_answers_alike(cache, copy, monkeypatch):
    first = load_schedules(copy)
    assert len(entries(cache)) == 1
    assert oct(stat.S_IMODE(cache.stat().st_mode)) == oct(0o700)
    assert oct(stat.S_IMODE(entries(cache)[0].stat().st_mode)) == oct(0o600)

    def refuse(*args):
        raise AssertionError("the files were read and checked again")

    monkeypatch.setattr("estimator.core.schedules._load", refuse)
    again = load_schedules(copy)
    assert again.content_hash == first.content_hash and again.directory == str(copy)
    request = {"cpt_code": "72148", "modifiers": ["26"], "payer_id": "medicare", "zip": "10001"}
    assert estimate_one(request, again) == estimate_one(request, first)


def test_a_changed_file_is_checked_afresh_and_a_bad_one_is_never_kept(cache, copy):
    load_schedules(copy)
    with open(copy / "payers.csv", "a") as handle:
        handle.write("p2,P2,commercial,0,0.2,0,,,false,0.5\n")
    assert "p2" in load_schedules(copy).payers.index
    assert len(entries(cache)) == 2
    with open(copy / "payers.csv", "a") as handle:
        handle.write("p3,P3,commercial,0,1.5,0,,,false,0.5\n")
    for _ in range(2):
        with pytest.raises(ScheduleError, match="must be at most 1"):
            load_schedules(copy)
    assert len(entries(cache)) == 2


def test_a_damaged_or_foreign_entry_is_a_miss(cache, copy):
    good = load_schedules(copy)
    (entry,) = entries(cache)
    entry.write_bytes(b"not a pickle")
    assert load_schedules(copy).content_hash == good.content_hash  # loaded again, and kept anew
    assert pickle.loads(entry.read_bytes()).content_hash == good.content_hash
    entry.chmod(0o666)  # another user could have written it: not read
    assert schedule_cache.read(good.content_hash) is None
    entry.chmod(0o600)
    cache.chmod(0o777)
    assert schedule_cache.read(good.content_hash) is None
    cache.chmod(0o700)
    assert schedule_cache.read(good.content_hash) is not None


def test_the_cache_keeps_the_newest_few_and_can_be_turned_off(cache, copy, monkeypatch):
    for i in range(schedule_cache.KEEP + 3):
        with open(copy / "payers.csv", "a") as handle:
            handle.write(f"q{i},Q{i},commercial,0,0.2,0,,,false,0.5\n")
        load_schedules(copy)
    assert len(entries(cache)) == schedule_cache.KEEP
    assert not [p for p in os.listdir(cache) if p.endswith(".part")]
    monkeypatch.setenv("ESTIMATOR_CACHE_DIR", "off")
    shutil.rmtree(cache)
    load_schedules(copy)
    assert not cache.exists()


def test_processes_loading_at_once_share_one_entry_and_a_killed_writer_leaves_nothing_read(cache, copy):
    import subprocess
    import sys
    import time

    code = (
        "import sys; from estimator.core.schedules import load_schedules; "
        "print(load_schedules(sys.argv[1]).content_hash)"
    )
    runs = [subprocess.Popen([sys.executable, "-c", code, str(copy)], stdout=subprocess.PIPE) for _ in range(4)]
    hashes = {run.communicate(timeout=120)[0].strip() for run in runs}
    assert [run.returncode for run in runs] == [0] * 4 and len(hashes) == 1
    assert len(entries(cache)) == 1 and not list(cache.glob(".schedules-*.part"))
    # a writer killed halfway: its partial file is never read, and the next writer clears it once stale
    partial = cache / ".schedules-killed.part"
    partial.write_bytes(b"half an entry")
    old = time.time() - schedule_cache.STALE_SECONDS - 1
    os.utime(partial, (old, old))
    with open(copy / "payers.csv", "a") as handle:
        handle.write("p9,P9,commercial,0,0.2,0,,,false,0.5\n")
    load_schedules(copy)
    assert not partial.exists() and len(entries(cache)) == 2
