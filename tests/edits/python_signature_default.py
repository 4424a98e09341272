kind=signature
#- text
def paginate(items, size):
    return [items[i:i + size] for i in range(0, len(items), size)]


def first_page(items):
    return paginate(items, 20)[0]
#- edit
1: size) -> size, offset=0)
#- expect
none
