kind=rename
#- text
def read_blocks(stream, size):
    buf = bytearray()
    while True:
        chunk = stream.read(size)
        if not chunk:
            break
        buf.extend(chunk)
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)
#- edit
7: buf -> pending
#- expect
2: buf -> pending
8: buf -> pending
9: buf -> pending
10: buf -> pending
11: buf -> pending
12: buf -> pending
