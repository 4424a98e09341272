kind=rename
#- text
import re

TOKEN = re.compile(r"\s*(\d+|\S)")


class Parser:
    """Parser for arithmetic expressions."""

    def __init__(self, text):
        self.tokens = TOKEN.findall(text)
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None


def parse(text) -> Parser:
    # Parser keeps its position between calls
    return Parser(text)


def is_parser(value):
    return isinstance(value, Parser) or type(value).__name__ == "Parser"
#- edit
6: Parser -> Reader
#- expect
17: Parser -> Reader
19: Parser -> Reader
23: Parser -> Reader
