kind=rename
#- text
from dataclasses import dataclass


@dataclass
class Order:
    price: float
    quantity: int


def total(items, tax_rate):
    subtotal = 0.0
    for item in items:
        subtotal += item.price * item.quantity
    tax = subtotal * tax_rate
    print(f"{len(items)} orders")
    return subtotal + tax


def cheapest(items):
    return min(items, key=lambda item: item.price)
#- edit
10: items -> orders
#- expect
12: items -> orders
15: items -> orders
