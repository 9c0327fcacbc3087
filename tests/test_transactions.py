"""store.transaction(): writes of several repositories inside it commit or roll back as one (issue #11)."""

from __future__ import annotations

import threading

import pytest

from gridmap.errors import Conflict
from gridmap.store import open_store


def test_nested_writes_of_two_repositories_roll_back_together(db_url):
    store = open_store(db_url, create=True)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            with store.transaction():
                store.users.add_user("ann", "hash", "dispatcher", None)
                store.users.add_token("tokhash", "ann", "phone")
                raise RuntimeError("boom")
        assert store.users.user("ann") is None and store.users.token_user("tokhash") is None
        with store.transaction():
            store.users.add_user("ann", "hash", "dispatcher", None)
            store.users.add_token("tokhash", "ann", "phone")
        assert store.users.token_user("tokhash")["username"] == "ann"
    finally:
        store.close()


def test_a_failing_repository_write_undoes_the_earlier_ones(db_url):
    store = open_store(db_url, create=True)
    try:
        store.users.add_user("bob", "hash", "staff", None)
        with pytest.raises(Conflict):
            with store.transaction():
                store.users.add_user("cat", "hash", "planner", None)
                store.users.add_user("bob", "hash", "staff", None)  # taken: Conflict
        assert store.users.user("cat") is None
        assert [u["username"] for u in store.users.list()] == ["bob"]
    finally:
        store.close()


def test_reads_inside_a_transaction_see_its_writes_and_other_threads_do_not(db_url):
    store = open_store(db_url, create=True)
    seen = {}
    try:
        with store.transaction():
            store.users.add_user("dan", "hash", "staff", None)
            seen["inside"] = store.users.user("dan") is not None
            if store.backend == "postgresql":  # SQLite's one writer would block the other thread's lock
                t = threading.Thread(target=lambda: seen.__setitem__("other", store.users.user("dan")))
                t.start()
                t.join(10)
        assert seen["inside"]
        if store.backend == "postgresql":
            assert seen["other"] is None  # not committed yet when the other thread looked
        assert store.users.user("dan") is not None
    finally:
        store.close()
