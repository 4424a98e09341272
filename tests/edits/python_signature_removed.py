kind=signature
#- text
import csv


def export(rows, path, verbose):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        for row in rows:
            writer.writerow(row)
    if verbose:
        print(f"wrote {len(rows)} rows to {path}")


def backup(rows):
    export(rows, "backup.csv", False)
#- file report.py
from exporter import export


def nightly(rows):
    export(rows, "/tmp/nightly.csv", True)
    return len(rows)
#- edit
4: , verbose) -> )
#- expect
14: , False) -> )
report.py 5: , True) -> )
