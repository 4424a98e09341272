kind=rename
#- text
def apply_discount(cart, code):
    total = sum(line.price * line.qty for line in cart.lines)
    if code == "HALF":
        total = total / 2
    elif code.startswith("MINUS"):
        total -= int(code[5:])
    return max(total, 0)
#- edit
2: total -> total_price
#- expect
4: total -> total_price
4.2: total -> total_price
6: total -> total_price
7: total -> total_price
#- edit
4: total -> total_price
#- expect
4.2: total -> total_price
6: total -> total_price
7: total -> total_price
