"""Typed records: classes with typed fields and defaults, in plain Python that costs almost nothing to import.

What SimCon used msgspec for, and only that (issue 11: importing msgspec pulls in typing, decimal, uuid, datetime,
platform and re, about 25 ms of every `create`):

* ``class Root(Record, camel=True): path: str; readonly: bool = False``: keyword or positional construction,
  ``==``, a repr, defaults (an empty ``[]``/``{}`` default is copied for each record; ``field(default_factory=...)``
  for others), ``field(name="hostID")`` for a JSON name that is not the camelCase of the attribute.
* ``frozen=True``: assignment refused (the plans), and hashable.
* ``replace(record, **changes)``, ``to_builtins(record)`` (JSON names, fields equal to their default left out, as
  msgspec's ``omit_defaults``).
* ``convert(builtins, Model)``: the JSON document, as the ``_json`` scanner parsed it, into models, checking the
  JSON type of every field, the required fields and the integer ranges (``U32 = Int(0, 2**32 - 1)`` in an
  annotation). A wrong value raises :class:`DecodeError` with the JSON path and the problem, in the words SimCon
  has always used (``process.args[0]``: ``expected a string, got an integer``). Unknown keys are ignored.

Annotations stay strings (``from __future__ import annotations``); a class's decoding table is built from them
the first time that class is decoded, so defining the models costs only the class statements.
"""

from __future__ import annotations

import sys

from simcon import fastjson
from simcon.errors import shorten

__all__ = ["DecodeError", "Int", "Record", "convert", "field", "replace", "to_builtins"]

_NO_DEFAULT = object()


class field:  # noqa: N801 - used like dataclasses.field
    """A field's default, default factory or JSON name, where the plain ``name: type = default`` is not enough."""

    __slots__ = ("default", "default_factory", "name")

    def __init__(self, *, default: object = _NO_DEFAULT, default_factory: object = None,
                 name: str | None = None) -> None:
        self.default = default
        self.default_factory = default_factory
        self.name = name


class Int:
    """An integer with bounds, for annotations (``U32 = Int(0, 0xFFFF_FFFF)``; ``uid: U32 = 0``)."""

    __slots__ = ("ge", "le")

    def __init__(self, ge: int | None = None, le: int | None = None) -> None:
        self.ge = ge
        self.le = le


class DecodeError(ValueError):
    """A value of the wrong JSON type, out of range, or a required field missing: ``path`` is the JSON path
    (``linux.uidMappings[0].size``; empty for the whole document), ``problem`` what is wrong."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path
        self.problem = problem


class _Field:
    __slots__ = ("attr", "json", "default", "factory", "annotation")

    def __init__(self, attr: str, json: str, default: object, factory: object, annotation: str) -> None:
        self.attr = attr
        self.json = json
        self.default = default  # _NO_DEFAULT: required
        self.factory = factory  # called for each new record, or None
        self.annotation = annotation


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class Record:
    """Base class: fields from the class annotations, in order (a subclass's after its base's)."""

    __fields__: tuple[_Field, ...] = ()
    __frozen__ = False
    __camel__ = False  # JSON names are the camelCase of the attributes (inherited)
    __omit_defaults__ = False  # to_builtins leaves out fields equal to their default (the camelCase models)
    __decoder__: object = None

    def __init_subclass__(cls, *, frozen: bool = False, camel: bool = False, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        camel = camel or cls.__camel__
        fields = {f.attr: f for f in cls.__fields__}
        own = cls.__dict__
        for attr, annotation in own.get("__annotations__", {}).items():
            if annotation.startswith("ClassVar"):
                continue
            value = own.get(attr, _NO_DEFAULT)
            default, factory, json = value, None, None
            if isinstance(value, field):
                default, factory, json = value.default, value.default_factory, value.name
            if type(default) in (list, dict, set) and not default:
                default, factory = _NO_DEFAULT, type(default)  # a fresh empty one for each record
            if default is not _NO_DEFAULT:
                type.__setattr__(cls, attr, default)
            elif attr in own:
                type.__delattr__(cls, attr)  # records always hold their own value
            fields[attr] = _Field(attr, json or (_camel(attr) if camel else attr),
                                  default, factory, annotation)
        cls.__fields__ = tuple(fields.values())
        cls.__frozen__ = frozen or cls.__frozen__
        cls.__camel__ = cls.__omit_defaults__ = camel
        cls.__decoder__ = None
        if cls.__frozen__:
            cls.__setattr__ = _refuse_assignment
            cls.__delattr__ = _refuse_assignment
            cls.__hash__ = _hash
        else:
            cls.__hash__ = None

    def __init__(self, *args: object, **kwargs: object) -> None:
        fields = self.__fields__
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__}: takes at most {len(fields)} arguments ({len(args)} given)")
        values = self.__dict__
        for position, f in enumerate(fields):
            if position < len(args):
                if f.attr in kwargs:
                    raise TypeError(f"{type(self).__name__}: argument {f.attr!r} given by name and position")
                values[f.attr] = args[position]
            elif f.attr in kwargs:
                values[f.attr] = kwargs.pop(f.attr)
            elif f.factory is not None:
                values[f.attr] = f.factory()
            elif f.default is not _NO_DEFAULT:
                values[f.attr] = f.default
            else:
                raise TypeError(f"{type(self).__name__}: missing required argument {f.attr!r}")
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument {next(iter(kwargs))!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __repr__(self) -> str:
        shown = (f"{f.attr}={self.__dict__[f.attr]!r}" for f in self.__fields__
                 if not _is_default(f, self.__dict__[f.attr]))
        return f"{type(self).__name__}({', '.join(shown)})"


def _refuse_assignment(self: Record, name: str, *value: object) -> None:
    raise AttributeError(f"{type(self).__name__} is frozen: cannot change {name!r}")


def _hash(self: Record) -> int:
    return hash((type(self), *self.__dict__.values()))


def _is_default(f: _Field, value: object) -> bool:
    if f.factory is not None:
        if f.factory in (list, dict, set):
            return not value and type(value) is f.factory
        return False
    return f.default is not _NO_DEFAULT and value == f.default and type(value) is type(f.default)


def _new(cls: type[Record], values: dict) -> Record:
    record = object.__new__(cls)
    record.__dict__.update(values)
    return record


def replace(record: Record, **changes: object) -> Record:
    """A copy of ``record`` with ``changes`` (field names) applied; a frozen record stays frozen."""
    values = dict(record.__dict__)
    for name, value in changes.items():
        if name not in values:
            raise TypeError(f"{type(record).__name__}: unexpected keyword argument {name!r}")
        values[name] = value
    return _new(type(record), values)


def to_builtins(value: object) -> object:
    """Records as dicts of JSON names (models leave out fields equal to their defaults), tuples as lists; the rest
    as it is. What state.json records and what `exec` reads back with :func:`convert`."""
    if isinstance(value, Record):
        out = {}
        omit = value.__omit_defaults__
        for f in value.__fields__:
            item = value.__dict__[f.attr]
            if omit and _is_default(f, item):
                continue
            out[f.json] = to_builtins(item)
        return out
    if isinstance(value, (list, tuple)):
        return [to_builtins(item) for item in value]
    if isinstance(value, dict):
        return {key: to_builtins(item) for key, item in value.items()}
    return value


# --- decoding ----------------------------------------------------------------------------------------------------

_JSON_TYPES = {type(None): "null", bool: "a boolean", int: "an integer", float: "a decimal number",
               str: "a string", list: "an array", dict: "an object"}


def _got(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _key(name: str) -> str:
    """A map key in a JSON path: ``["org.example"]``."""
    return f"[{shorten(fastjson.quote(name))}]"


def convert(value: object, model: type[Record], path: str = "") -> Record:
    """``value`` (what the JSON scanner made of a document: dicts, lists, str, int, float, bool, None) as a
    ``model``; :class:`DecodeError` at the first wrong value, in document order (a missing required field is
    noticed at the end of its object)."""
    return _decoder(model)(value, path)


def _decoder(model: type[Record]):  # noqa: ANN202 - a (value, path) -> Record function
    decoder = model.__dict__.get("__decoder__")
    if decoder is None:
        decoder = _object_decoder(model)
        type.__setattr__(model, "__decoder__", decoder)
    return decoder


def _object_decoder(model: type[Record]):  # noqa: ANN202
    names = vars(sys.modules[model.__module__])
    by_json = {}
    required = []
    for f in model.__fields__:
        by_json[f.json] = (f.attr, _type_decoder(f.annotation, names))
        if f.default is _NO_DEFAULT and f.factory is None:
            required.append(f)
    fields = model.__fields__

    def decode(value: object, path: str) -> Record:
        if type(value) is not dict:
            raise DecodeError(path, f"expected an object, got {_got(value)}")
        values = {}
        for key, item in value.items():
            known = by_json.get(key)
            if known is not None:
                values[known[0]] = known[1](item, f"{path}.{key}" if path else key)
        if len(values) != len(fields):
            for f in required:
                if f.attr not in values:
                    raise DecodeError(f"{path}.{f.json}" if path else f.json, "required field is missing")
            for f in fields:
                if f.attr not in values:
                    values[f.attr] = f.factory() if f.factory is not None else f.default
        return _new(model, values)

    return decode


def _split_union(annotation: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for position, char in enumerate(annotation):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(annotation[start:position].strip())
            start = position + 1
    parts.append(annotation[start:].strip())
    return parts


def _type_decoder(annotation: str, names: dict):  # noqa: ANN202, C901 - one branch per kind of annotation
    """A (value, path) -> value function for an annotation string (``U32 | None``, ``list[Mount]``,
    ``dict[str, str]``)."""
    kinds = _split_union(annotation)
    nullable = "None" in kinds
    kinds = [kind for kind in kinds if kind != "None"]
    if len(kinds) != 1:
        raise TypeError(f"cannot decode {annotation!r}: one type, or one type | None")
    kind = kinds[0]
    if kind.startswith("list["):
        item = _type_decoder(kind[5:-1], names)
        check = _list_checker(item)
    elif kind.startswith("dict["):
        key, _, item_type = kind[5:-1].partition(",")
        if key.strip() != "str":
            raise TypeError(f"cannot decode {annotation!r}: JSON object keys are strings")
        item = _type_decoder(item_type.strip(), names)
        check = _dict_checker(item)
    elif kind == "str":
        check = _exact(str, "a string")
    elif kind == "bool":
        check = _exact(bool, "a boolean")
    elif kind == "int":
        check = _int_checker(None, None)
    else:
        target = names.get(kind)
        if isinstance(target, Int):
            check = _int_checker(target.ge, target.le)
        elif isinstance(target, type) and issubclass(target, Record):
            check = _lazy_record(target)
        else:
            raise TypeError(f"cannot decode {annotation!r}: unknown type {kind!r}")
    if not nullable:
        return check

    def optional(value: object, path: str) -> object:
        if value is None:
            return None
        return check(value, path)

    return optional


def _exact(kind: type, words: str):  # noqa: ANN202
    def check(value: object, path: str) -> object:
        if type(value) is not kind:
            raise DecodeError(path, f"expected {words}, got {_got(value)}")
        return value

    return check


def _int_checker(ge: int | None, le: int | None):  # noqa: ANN202
    def check(value: object, path: str) -> object:
        if type(value) is not int:
            raise DecodeError(path, f"expected an integer, got {_got(value)}")
        if ge is not None and value < ge:
            raise DecodeError(path, f"expected an integer >= {ge}, got {shorten(str(value))}")
        if le is not None and value > le:
            raise DecodeError(path, f"expected an integer <= {le}, got {shorten(str(value))}")
        return value

    return check


def _list_checker(item):  # noqa: ANN001, ANN202
    def check(value: object, path: str) -> object:
        if type(value) is not list:
            raise DecodeError(path, f"expected an array, got {_got(value)}")
        return [item(element, f"{path}[{index}]") for index, element in enumerate(value)]

    return check


def _dict_checker(item):  # noqa: ANN001, ANN202
    def check(value: object, path: str) -> object:
        if type(value) is not dict:
            raise DecodeError(path, f"expected an object, got {_got(value)}")
        return {key: item(element, f"{path}{_key(key)}") for key, element in value.items()}

    return check


def _lazy_record(model: type[Record]):  # noqa: ANN202
    # The nested model's table is built when a value for it first comes (a Spec without `linux.seccomp` never
    # builds the Seccomp one).
    def check(value: object, path: str) -> object:
        return _decoder(model)(value, path)

    return check
