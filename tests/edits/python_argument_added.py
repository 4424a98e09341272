kind=arguments
#- text
import socket


def connect(host, port, timeout=None):
    sock = socket.create_connection((host, port), timeout=timeout)
    return sock


def send(host, port, payload):
    sock = connect(host, port)
    sock.sendall(payload)
    sock.close()


def receive(host, port, size):
    sock = connect(host, port)
    data = sock.recv(size)
    sock.close()
    return data


def probe(host):
    sock = connect(host, 22)
    sock.close()
#- edit
10: connect(host, port) -> connect(host, port, timeout=5)
#- expect
16: connect(host, port) -> connect(host, port, timeout=5)
