"""Where a JSON document stops being JSON, and why: for the errors of :mod:`simcon.spec.load`.

The ``_json`` scanner that reads the documents says little when it fails (and nothing usable inside an object or
array without the ``json`` package, which imports ``re``). Only when it has failed, this walk finds the first
place the document breaks the JSON grammar (RFC 8259) and names it in a few words: ``trailing comma in array``,
``expected ',' or '}'``, ``unexpected end of file``... (the words SimCon's errors have used since they came from
msgspec). Iterative, so a document nested thousands deep does not exhaust the stack.
"""

from __future__ import annotations

import sys

__all__ = ["first_problem"]

_SPACE = " \t\n\r"
_DIGITS = "0123456789"
_HEX = "0123456789abcdefABCDEF"
_ESCAPES = '"\\/bfnrt'
_LITERALS = {"t": "true", "f": "false", "n": "null"}
_END = "unexpected end of file"


class _Broken(Exception):
    def __init__(self, problem: str, position: int) -> None:
        super().__init__(problem)
        self.problem = problem
        self.position = position


def first_problem(text: str) -> tuple[str, int] | None:
    """(what is wrong, character offset) at the first place ``text`` is not JSON; None if it is JSON (the scanner
    failed for another reason, such as an integer of more digits than Python converts)."""
    try:
        _document(text)
    except _Broken as broken:
        if broken.problem == _END:
            return _END, len(text.rstrip(_SPACE))
        return broken.problem, broken.position
    return None


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in _SPACE:
        position += 1
    return position


def _at(text: str, position: int) -> str:
    if position >= len(text):
        raise _Broken(_END, position)
    return text[position]


def _document(text: str) -> None:
    position = _skip(text, _value(text, _skip(text, 0), []))
    if position < len(text):
        raise _Broken("trailing characters", position)


def _value(text: str, position: int, stack: list[str]) -> int:  # noqa: C901 - one branch per token
    """Read one value starting at ``position`` (no space before it); returns the offset after it. Containers are
    followed with an explicit stack."""
    base = len(stack)
    while True:
        char = _at(text, position)
        if char == "{":
            position = _skip(text, position + 1)
            if _at(text, position) == "}":
                position += 1
            else:
                position = _key(text, position)
                stack.append("}")
                continue
        elif char == "[":
            position = _skip(text, position + 1)
            if _at(text, position) == "]":
                position += 1
            else:
                stack.append("]")
                continue
        elif char == '"':
            position = _string(text, position)
        elif char == "-" or char in _DIGITS:
            position = _number(text, position)
        elif char in _LITERALS:
            word = _LITERALS[char]
            if len(text) - position < len(word):
                raise _Broken(_END, position)
            if text[position:position + len(word)] != word:
                raise _Broken("invalid character", position + len(word))
            position += len(word)
        else:
            raise _Broken("invalid character", position)
        # A value ended: close the containers that end here, or go on to the next item of the innermost one.
        while len(stack) > base:
            closing = stack[-1]
            position = _skip(text, position)
            char = _at(text, position)
            if char == closing:
                stack.pop()
                position += 1
                continue
            if char != ",":
                raise _Broken(f"expected ',' or '{closing}'", position)
            position = _skip(text, position + 1)
            char = _at(text, position)
            if char == closing:
                raise _Broken(f"trailing comma in {'array' if closing == ']' else 'object'}", position)
            if closing == "}":
                position = _key(text, position)
            break
        else:
            return position


def _key(text: str, position: int) -> int:
    """An object key and its colon; returns where the value starts."""
    if _at(text, position) != '"':
        raise _Broken("object keys must be strings", position)
    position = _skip(text, _string(text, position))
    if _at(text, position) != ":":
        raise _Broken("expected ':'", position)
    return _skip(text, position + 1)


def _string(text: str, position: int) -> int:
    position += 1
    while True:
        char = _at(text, position)
        if char == '"':
            return position + 1
        if char == "\\":
            escape = _at(text, position + 1)
            if escape == "u":
                digits = text[position + 2:position + 6]
                if len(digits) < 4:
                    raise _Broken(_END, position)
                if any(digit not in _HEX for digit in digits):
                    raise _Broken("invalid character in unicode escape", position + 5)
                position += 6
            elif escape in _ESCAPES:
                position += 2
            else:
                raise _Broken("invalid escape character in string", position + 2)
        elif char < " ":
            raise _Broken("invalid character", position)
        else:
            position += 1


def _number(text: str, position: int) -> int:
    start = position
    if text[position] == "-":
        position += 1
        if _at(text, position) not in _DIGITS:
            raise _Broken("invalid character", position)
    if text[position] == "0":
        position += 1
        if position < len(text) and text[position] in _DIGITS:
            raise _Broken("invalid number", position)
    else:
        while position < len(text) and text[position] in _DIGITS:
            position += 1
    integer_end = position
    if position < len(text) and text[position] == ".":
        position += 1
        if _at(text, position) not in _DIGITS:
            raise _Broken("invalid number", position)
        while position < len(text) and text[position] in _DIGITS:
            position += 1
    if position < len(text) and text[position] in "eE":
        position += 1
        if position < len(text) and text[position] in "+-":
            position += 1
        if _at(text, position) not in _DIGITS:
            raise _Broken("invalid number", position)
        while position < len(text) and text[position] in _DIGITS:
            position += 1
    elif integer_end == position and position - start > sys.get_int_max_str_digits() > 0:
        raise _Broken("number out of range", start)  # more digits than Python turns into an int
    return position
