kind=rename
#- text
def clamp(value, low, high):
    if value < low:
        return low
    if value > high:
        return high
    return value


def scale(width, height, factor):
    new_width = width * factor
    new_height = width * factor
    return clamp(new_width, 1, 4096), clamp(new_height, 1, 4096)
#- edit
11: width -> height
#- expect
none
