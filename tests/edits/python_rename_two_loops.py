kind=rename
#- text
def report(orders, refunds):
    lines = []
    for item in orders:
        lines.append(f"order {item.id}: {item.amount:.2f}")
    for item in refunds:
        lines.append(f"refund {item.id}: -{item.amount:.2f}")
    return "\n".join(lines)
#- edit
3: item -> order
#- expect
4: item -> order
4.2: item -> order
