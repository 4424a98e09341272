kind=rename
#- text
def index_rows(rows):
    by_id = {}
    for row in rows:
        by_id[row["id"]] = row
    names = [row["name"] for row in rows if row["active"]]
    return by_id, names
#- edit
3: row -> record
#- expect
4: row -> record
4.2: row -> record
