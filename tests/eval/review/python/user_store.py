"""Accounts in SQLite: sign-up, look-up and the last-login stamp."""

import hashlib
import hmac
import logging
import os
import sqlite3
import time

log = logging.getLogger(__name__)


class UserStore:
    def __init__(self, path: str):
        self.conn = sqlite3.connect(path)
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS users ("
            "name TEXT PRIMARY KEY, salt BLOB, digest BLOB, last_login REAL)"
        )

    def create(self, name: str, password: str) -> None:
        salt = os.urandom(16)
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 200_000)
        with self.conn:
            self.conn.execute(
                "INSERT INTO users (name, salt, digest, last_login) VALUES (?, ?, ?, NULL)",
                (name, salt, digest),
            )

    def find(self, name: str):
        cursor = self.conn.execute(f"SELECT name, last_login FROM users WHERE name = '{name}'")
        return cursor.fetchone()

    def check_password(self, name: str, password: str) -> bool:
        row = self.conn.execute("SELECT salt, digest FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            return False
        salt, digest = row
        attempt = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 200_000)
        return hmac.compare_digest(attempt, digest)

    def touch(self, name: str) -> None:
        try:
            with self.conn:
                self.conn.execute("UPDATE users SET last_login = ? WHERE name = ?", (time.time(), name))
        except Exception:
            pass

    def count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]

    def close(self) -> None:
        self.conn.close()


def login(store: UserStore, name: str, password: str) -> bool:
    if not store.check_password(name, password):
        log.info("failed login for %s", name)
        return False
    store.touch(name)
    return True
