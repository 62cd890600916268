"""A login costs one password hash whatever the name: the RAG_AUTH admin's, an account's or a name
that does not exist (issue 28: the RAG_AUTH name answered a wrong password 50 times faster)."""

from __future__ import annotations

from argon2 import PasswordHasher

from rag.team.accounts import Accounts
from rag.team.db import open_url


class CountingHasher(PasswordHasher):
    def __init__(self):
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified = 0

    def verify(self, hash, password):
        self.verified += 1
        return super().verify(hash, password)


def test_every_name_costs_one_verify(tmp_path):
    database = open_url(f"sqlite:///{tmp_path / 'team.sqlite3'}")
    hasher = CountingHasher()
    accounts = Accounts(database, ("admin", "right-password"), hasher=hasher)
    accounts.add("sam", "sams-password", "reader")
    for name, password, ok in [("admin", "wrong", False), ("admin", "right-password", True),
                               ("sam", "wrong", False), ("sam", "sams-password", True), ("nobody", "wrong", False)]:
        before = hasher.verified
        assert (accounts.check(name, password) is not None) is ok
        assert hasher.verified - before == 1, name
    database.close()
