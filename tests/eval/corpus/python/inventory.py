"""A small warehouse inventory: items, stock levels and reorder rules."""

from dataclasses import dataclass, field
from typing import Dict, List, Optional


@dataclass
class Item:
    sku: str
    name: str
    unit_price: float
    quantity: int = 0
    reorder_level: int = 5

    def value(self) -> float:
        return self.unit_price * self.quantity

    def needs_reorder(self) -> bool:
        return self.quantity <= self.reorder_level


@dataclass
class Inventory:
    items: Dict[str, Item] = field(default_factory=dict)

    def add(self, item: Item) -> None:
        if item.sku in self.items:
            raise ValueError(f"duplicate sku: {item.sku}")
        self.items[item.sku] = item

    def get(self, sku: str) -> Optional[Item]:
        return self.items.get(sku)

    def receive(self, sku: str, amount: int) -> int:
        item = self.items[sku]
        item.quantity += amount
        return item.quantity

    def ship(self, sku: str, amount: int) -> int:
        item = self.items[sku]
        if amount > item.quantity:
            raise ValueError(f"only {item.quantity} of {sku} in stock")
        item.quantity -= amount
        return item.quantity

    def total_value(self) -> float:
        return sum(item.value() for item in self.items.values())

    def low_stock(self) -> List[Item]:
        return [item for item in self.items.values() if item.needs_reorder()]

    def search(self, text: str) -> List[Item]:
        text = text.lower()
        return [item for item in self.items.values() if text in item.name.lower()]
