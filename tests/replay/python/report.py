"""Reports over an inventory: totals, low stock, and a printable table."""

from collections import defaultdict

from inventory import Inventory, Item

LOW_STOCK = 3


def low_stock(inventory: Inventory, threshold: int = LOW_STOCK) -> list[Item]:
    """Items that need reordering, fewest first."""
    items = [item for item in inventory.items.values() if item.quantity <= threshold]
    return sorted(items, key=lambda item: item.quantity)


def value_by_letter(inventory: Inventory) -> dict[str, float]:
    """Stock value grouped by the first letter of each item's name."""
    totals: dict[str, float] = defaultdict(float)
    for item in inventory.items.values():
        totals[item.name[0].upper()] += item.price * item.quantity
    return dict(totals)


def format_row(item: Item, width: int = 12) -> str:
    name = item.name.ljust(width)
    price = f"{item.price:8.2f}"
    quantity = str(item.quantity).rjust(5)
    return f"{name}{price}{quantity}"


def table(inventory: Inventory) -> str:
    header = "name".ljust(12) + "price".rjust(8) + "qty".rjust(5)
    lines = [header, "-" * len(header)]
    for item in sorted(inventory.items.values(), key=lambda item: item.name):
        lines.append(format_row(item))
    lines.append("-" * len(header))
    lines.append(f"total value: {inventory.total_value():.2f}")
    return "\n".join(lines)


def reorder_list(inventory: Inventory, target: int = 10) -> dict[str, int]:
    """How many of each low item to order to reach `target`."""
    orders = {}
    for item in low_stock(inventory):
        
    return orders


def summary(inventory: Inventory) -> str:
    low = low_stock(inventory)
    parts = [f"{len(inventory.items)} items"]
    if low:
        parts.append(f"{len(low)} low: " + ", ".join(item.name for item in low))
    return "; ".join(parts)
