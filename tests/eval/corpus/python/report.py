"""Text reports over an inventory."""

from inventory import Inventory, Item


def format_money(amount: float) -> str:
    return f"${amount:,.2f}"


def item_line(item: Item) -> str:
    flag = " (reorder)" if item.needs_reorder() else ""
    return f"{item.sku:<8} {item.name:<24} {item.quantity:>5} {format_money(item.value()):>12}{flag}"


def stock_report(inventory: Inventory) -> str:
    lines = ["SKU      Name                     Qty        Value"]
    for sku in sorted(inventory.items):
        lines.append(item_line(inventory.items[sku]))
    lines.append(f"Total value: {format_money(inventory.total_value())}")
    return "\n".join(lines)


def reorder_report(inventory: Inventory) -> str:
    low = inventory.low_stock()
    if not low:
        return "Nothing to reorder."
    lines = [f"{len(low)} items to reorder:"]
    for item in sorted(low, key=lambda i: i.quantity):
        missing = item.reorder_level - item.quantity + 1
        lines.append(f"- {item.name}: order {missing} more")
    return "\n".join(lines)


def demo() -> None:
    inventory = Inventory()
    inventory.add(Item("A100", "Steel bolts", 0.25, quantity=400))
    inventory.add(Item("A200", "Hex nuts", 0.10, quantity=3))
    inventory.add(Item("B300", "Washers", 0.05, quantity=50, reorder_level=60))
    inventory.ship("A100", 150)
    print(stock_report(inventory))
    print(reorder_report(inventory))


if __name__ == "__main__":
    demo()
