kind=signature
#- text
import time


class Client:
    def __init__(self, transport):
        self.transport = transport

    def send(self, message, retries):
        for attempt in range(retries):
            if self.transport.write(message):
                return True
            time.sleep(2 ** attempt)
        return False

    def broadcast(self, messages):
        return all(self.send(m, 3) for m in messages)


def notify(client, text):
    if not client.send(text, 5):
        raise RuntimeError("notification failed")
#- edit
8: , retries) -> )
#- expect
16: , 3) -> )
20: , 5) -> )
