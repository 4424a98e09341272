"""Inventory bookkeeping for a small shop."""

from dataclasses import dataclass, field


@dataclass
class Item:
    name: str
    price: float
    quantity: int = 0


@dataclass
class Inventory:
    items: dict[str, Item] = field(default_factory=dict)

    def add(self, item: Item) -> None:
        if item.name in self.items:
            self.items[item.name].quantity += item.quantity
        else:
            self.items[item.name] = item

    def total_value(self) -> float:
        return 

    def remove(self, name: str, quantity: int) -> None:
        item = self.items[name]
        if quantity > item.quantity:
            raise ValueError(f"only {item.quantity} {name} left")
        item.quantity -= quantity
        if item.quantity == 0:
            del self.items[name]

    def cheapest(self) -> Item:
        return min(self.items.values(), key=lambda item: item.price)


def main() -> None:
    inventory = Inventory()
    inventory.add(Item("apple", 0.5, 10))
    inventory.add(Item("pear", 0.75, 4))
    print(inventory.total_value())


if __name__ == "__main__":
    main()
