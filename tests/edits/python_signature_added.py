kind=signature
#- text
def make_invoice(customer, items):
    total = sum(item.price for item in items)
    return {"customer": customer, "items": items, "total": total}


def checkout(cart):
    invoice = make_invoice(cart.customer, cart.items)
    return invoice


def reorder(previous):
    return make_invoice(previous["customer"], previous["items"])
#- edit
1: items) -> items, currency)
#- expect
target 7
target 12
