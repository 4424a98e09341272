kind=rename
#- text
def summarize(rows):
    result = {}
    for row in rows:
        result[row.key] = result.get(row.key, 0) + row.value

    def top(n):
        return sorted(result.items(), key=lambda kv: -kv[1])[:n]

    return top(3)


def render(rows):
    result = []
    for row in rows:
        result.append(f"{row.key}: {row.value}")

    def joined():
        result = ", ".join(sorted(rows))
        return result

    return "\n".join(result) + joined()
#- edit
2: result -> totals
#- expect
4: result -> totals
4.2: result -> totals
7: result -> totals
