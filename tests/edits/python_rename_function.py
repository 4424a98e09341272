kind=rename
#- text
import sqlite3


def fetch_user(conn, user_id):
    row = conn.execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()
    return row[0] if row else None


class Cache:
    def __init__(self, conn):
        self.conn = conn
        self.users = {}

    def fetch_user(self, user_id):
        if user_id not in self.users:
            self.users[user_id] = fetch_user(self.conn, user_id)
        return self.users[user_id]


def greet(conn, user_id):
    name = fetch_user(conn, user_id)
    return f"hello {name}"


def greet_cached(cache, user_id):
    return "hello " + cache.fetch_user(user_id)
#- edit
4: fetch_user -> load_user
#- expect
16: fetch_user -> load_user
21: fetch_user -> load_user
