"""Command line for the inventory: add, remove, and print reports."""

import argparse
import json
import sys
from pathlib import Path

from inventory import Inventory, Item
from report import summary, table

DEFAULT_PATH = Path("inventory.json")


def load(path: Path) -> Inventory:
    inventory = Inventory()
    if not path.exists():
        return inventory
    for record in json.loads(path.read_text()):
        inventory.add(Item(record["name"], record["price"], record["quantity"]))
    return inventory


def save(inventory: Inventory, path: Path) -> None:
    records = [
        {"name": item.name, "price": item.price, "quantity": item.quantity}
        for item in inventory.items.values()
    ]
    path.write_text(json.dumps(records, indent=2))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="inventory")
    parser.add_argument("--file", type=Path, default=DEFAULT_PATH)
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add")
    add.add_argument("name")
    add.add_argument("price", type=float)
    add.add_argument("quantity", type=int)
    remove = commands.add_parser("remove")
    remove.add_argument("name")
    remove.add_argument("quantity", type=int)
    commands.add_parser("table")
    commands.add_parser("summary")
    return parser.parse_args(argv)


def run(argv: list[str]) -> int:
    args = parse_args(argv)
    inventory = load(args.file)
    if args.command == "add":
        inventory.add(Item(args.name, args.price, args.quantity))
    elif args.command == "remove":
        try:
            inventory.remove(args.name, args.quantity)
        except (KeyError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    elif args.command == "table":
        print(table(inventory))
    elif args.command == "summary":
        
    save(inventory, args.file)
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
