kind=rename
#- text
import sqlite3


def migrate(path):
    conn = sqlite3.connect(path)
    cur = conn.cursor()
    cur.execute("CREATE TABLE IF NOT EXISTS users (id INTEGER, name TEXT)")
    conn.commit()
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.close()
    return version
#- edit
5: conn -> db
#- expect
6: conn -> db
8: conn -> db
9: conn -> db
10: conn -> db
#- edit
6: conn -> db
#- expect
8: conn -> db
9: conn -> db
10: conn -> db
