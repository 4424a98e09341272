kind=rename
#- text
def invoice_totals(lines, tax_rate):
    total = sum(line.amount for line in lines)
    tax = total * tax_rate
    return total, tax
#- edit
3:     tax = ->     tax = total * tax_rate\n    tax =
4: tax -> rebate
#- expect
4: tax_rate -> 0.1
