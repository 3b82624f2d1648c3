"""JSON for the hot commands, on CPython's C accelerator (``_json``) without the ``json`` package.

Why: ``json.decoder`` imports ``re``, which imports ``enum``: about 10 ms, a third of a `simcon state`. The C
scanner and string encoder that ``json`` itself uses are all we need; the pretty printer below covers the plain
data SimCon writes (dicts, lists, strings, numbers, booleans, None). Without ``_json`` it falls back to ``json``.
"""

from __future__ import annotations

try:
    from _json import encode_basestring as quote  # a JSON string, non-ASCII kept (as errors quote values)
    from _json import encode_basestring_ascii as _quote
    from _json import make_encoder as _make_encoder
    from _json import make_scanner as _make_scanner
except ImportError:  # pragma: no cover - other Python implementations
    import json as _std
    from json.encoder import encode_basestring as quote  # noqa: F401

    def loads(text: str | bytes) -> object:
        return _std.loads(text)

    parse = loads

    def dumps(value: object, indent: int | None = None) -> str:
        return _std.dumps(value, indent=indent, separators=(",", ": ") if indent else (",", ":"))

else:
    _WHITESPACE = " \t\n\r"

    def _constant(name: str) -> float:
        raise ValueError(f"{name} is not valid JSON")

    class _Context:
        """The attributes the C scanner reads from a ``json.JSONDecoder``."""

        strict = True
        object_hook = None
        object_pairs_hook = None
        parse_float = float
        parse_int = int
        parse_constant = staticmethod(_constant)
        memo: dict = {}

    _scan = _make_scanner(_Context())

    def loads(text: str | bytes) -> object:
        """Parse a JSON document; ValueError (with the offset) when it is not one."""
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8")
        start = len(text) - len(text.lstrip(_WHITESPACE))
        try:
            value, end = _scan(text, start)
        except StopIteration as exc:
            raise ValueError(f"expecting a JSON value at offset {exc.value}") from None
        except SystemError:
            # An error inside an object or array: the C scanner raises it through json.decoder, which we do not
            # import, and so fails with SystemError. On this (rare) path, let json itself say what is wrong.
            import json

            return json.loads(text)
        if text[end:].strip(_WHITESPACE):
            raise ValueError(f"extra data at offset {end}")
        return value

    def parse(text: str | bytes) -> object:
        """Like :func:`loads`, for input that may well not be JSON (config.json): never imports ``json``, and
        says nothing useful when the input is not JSON (a bare ValueError: the caller finds out where and why);
        RecursionError when it is nested too deeply."""
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8")  # UnicodeDecodeError is a ValueError
        start = len(text) - len(text.lstrip(_WHITESPACE))
        try:
            value, end = _scan(text, start)
        except (StopIteration, SystemError):  # SystemError: see loads
            raise ValueError("not JSON") from None
        if text[end:].strip(_WHITESPACE):
            raise ValueError("not JSON")
        return value

    def _unencodable(value: object) -> object:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")

    # The compact form by the C encoder `json` uses (state.json, sync messages and log lines are written on every
    # create): arguments as json.encoder passes them (no circular check, ASCII strings, no NaN).
    _compact = _make_encoder(None, _unencodable, _quote, None, ":", ",", False, False, False)

    def dumps(value: object, indent: int | None = None) -> str:
        """Compact (``{"a":1}``, as runc writes its log lines) or indented with ``indent`` spaces."""
        if indent is None:
            return "".join(_compact(value, 0))
        parts: list[str] = []
        _encode(value, parts, indent, 0)
        return "".join(parts)

    def _encode(value: object, out: list[str], indent: int | None, level: int) -> None:
        if isinstance(value, str):
            out.append(_quote(value))
        elif value is None:
            out.append("null")
        elif value is True:
            out.append("true")
        elif value is False:
            out.append("false")
        elif isinstance(value, int):
            out.append(int.__repr__(value))
        elif isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(f"{value!r} is not valid JSON")
            out.append(float.__repr__(value))
        elif isinstance(value, dict):
            _encode_items(
                [(_quote(str(k)) + (": " if indent is not None else ":"), v) for k, v in value.items()],
                "{", "}", out, indent, level,
            )
        elif isinstance(value, (list, tuple)):
            _encode_items([("", v) for v in value], "[", "]", out, indent, level)
        else:
            raise TypeError(f"cannot encode {type(value).__name__} as JSON")

    def _encode_items(items: list[tuple[str, object]], opening: str, closing: str, out: list[str],
                      indent: int | None, level: int) -> None:
        if not items:
            out.append(opening + closing)
            return
        out.append(opening)
        inner = "\n" + " " * (indent * (level + 1)) if indent is not None else ""
        for position, (prefix, item) in enumerate(items):
            if position:
                out.append(",")
            out.append(inner + prefix)
            _encode(item, out, indent, level + 1)
        out.append("\n" + " " * (indent * level) + closing if indent is not None else closing)
