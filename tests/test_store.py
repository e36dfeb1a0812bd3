import sqlite3

import pytest

from evolviz.errors import NotAStoreError, StoreError, StoreVersionError
from evolviz.records import Candidate
from evolviz.seeds import Seed
from evolviz.store import SCHEMA_VERSION, RunStore, check_store


def seeds(n=3):
    return [Seed(id=f"seed-{i:06d}", instruction=f"Task {i}", input="x" if i == 0 else "")
            for i in range(n)]


def cand(g, slot, parent, status="accepted"):
    return Candidate(id=f"g{g}-{slot:06d}", generation=g, slot=slot, parent_id=parent,
                     seed_id=f"seed-{slot:06d}", operator="deepening",
                     parent_instruction="p", status=status, instruction=f"inst {g}/{slot}",
                     answer="a", finished_at=1.0)


def test_new_store_records_schema_version_and_seeds(tmp_path):
    with RunStore(tmp_path / "r.db") as s:
        s.add_seeds(seeds())
        assert s.seed_count() == 3
        pool = s.pool(1)
        assert [m.id for m in pool] == ["seed-000000", "seed-000001", "seed-000002"]
        assert pool[0].text == "Task 0\n\nx"
    conn = sqlite3.connect(tmp_path / "r.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_store_from_a_newer_evolviz_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "r.db"
    RunStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreVersionError, match="newer evolviz"):
        RunStore(path)
    assert path.read_bytes() == before


def test_not_a_store(tmp_path):
    text = tmp_path / "notes.db"
    text.write_text("hello")
    with pytest.raises(NotAStoreError, match="not an SQLite file"):
        RunStore(text)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(NotAStoreError, match="not an evolviz run store"):
        RunStore(other)
    with pytest.raises(StoreError, match="no such run store"):
        RunStore(tmp_path / "missing.db", create=False)


def test_corrupt_store_is_refused(tmp_path):
    path = tmp_path / "r.db"
    with RunStore(path) as s:
        s.add_seeds(seeds())
        s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # wreck the schema page, keep the magic
    path.write_bytes(bytes(data))
    with pytest.raises(NotAStoreError):
        RunStore(path)


def test_a_candidate_cannot_be_stored_twice(tmp_path):
    with RunStore(tmp_path / "r.db") as s:
        s.add_seeds(seeds())
        s.add_candidate(cand(1, 0, "seed-000000"))
        with pytest.raises(sqlite3.IntegrityError):
            s.add_candidate(cand(1, 0, "seed-000000"))
        assert s.candidate_count() == 1


def test_next_pool_keeps_the_parent_of_a_rejected_slot(tmp_path):
    with RunStore(tmp_path / "r.db") as s:
        s.add_seeds(seeds())
        s.add_candidate(cand(1, 0, "seed-000000", "accepted"))
        s.add_candidate(cand(1, 1, "seed-000001", "rejected"))
        s.add_candidate(cand(1, 2, "seed-000002", "failed"))
        s.close_generation(1, s.count_generation(1))
        assert [m.id for m in s.pool(2)] == ["g1-000000", "seed-000001", "seed-000002"]
        assert s.pool(2)[0].text == "inst 1/0" and s.pool(2)[0].generation == 1
        assert check_store(s) == []


def test_check_store_finds_a_hole(tmp_path):
    with RunStore(tmp_path / "r.db") as s:
        s.add_seeds(seeds())
        s.add_candidate(cand(1, 0, "seed-000000"))
        s.add_candidate(cand(1, 1, "seed-000001"))
        s.add_candidate(cand(1, 2, "seed-000002"))
        s.close_generation(1, s.count_generation(1))
        s.conn.execute("DELETE FROM candidates WHERE slot = 1")
        problems = check_store(s)
        assert any("2 candidates for a pool of 3" in p for p in problems), problems
