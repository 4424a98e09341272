"""Stock levels per warehouse, and the reorder list purchasing reads every morning."""

from dataclasses import dataclass, field


@dataclass
class Item:
    sku: str
    name: str
    quantity: int
    reorder_at: int
    warehouse: str


@dataclass
class Inventory:
    items: list = field(default_factory=list)

    def add(self, item: Item) -> None:
        self.items.append(item)

    def by_warehouse(self, warehouse: str) -> list:
        return [item for item in self.items if item.warehouse == warehouse]

    def total_quantity(self, sku: str) -> int:
        return sum(item.quantity for item in self.items if item.sku == sku)

    def skus(self) -> list:
        seen = []
        for item in self.items:
            if item.sku not in seen:
                seen.append(item.sku)
        return seen

    def needs_reorder(self) -> list:
        stock = {}
        threshold = {}
        for item in self.items:
            stock[item.sku] = stock.get(item.sku, 0) + item.quantity
            threshold[item.sku] = max(threshold.get(item.sku, 0), item.reorder_at)
        return [sku for sku, total in stock.items() if total < threshold[sku]]

    def page(self, number: int, size: int = 20) -> list:
        """Items of page `number`, counting pages from 1."""
        start = number * size
        return self.items[start:start + size]

    def remove_empty(self) -> int:
        before = len(self.items)
        self.items = [item for item in self.items if item.quantity > 0]
        return before - len(self.items)


def load(rows: list) -> Inventory:
    inventory = Inventory()
    for row in rows:
        inventory.add(
            Item(
                sku=row["sku"],
                name=row["name"],
                quantity=int(row["quantity"]),
                reorder_at=int(row.get("reorder_at", 0)),
                warehouse=row["warehouse"],
            )
        )
    return inventory
