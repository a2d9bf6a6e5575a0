"""A small CEL parser used only for static checks (which evidence fields and functions an expression uses).

The `cel` library compiles and evaluates; it does not expose its AST, so this parser rebuilds enough of it
to name the field paths an expression selects. It follows the CEL grammar (cel-spec langdef.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class CelParseError(Exception):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.pos = pos


@dataclass(frozen=True, slots=True)
class Expr:
    pos: int


@dataclass(frozen=True, slots=True)
class Ident(Expr):
    name: str


@dataclass(frozen=True, slots=True)
class Select(Expr):
    operand: Expr
    field: str


@dataclass(frozen=True, slots=True)
class Index(Expr):
    operand: Expr
    index: Expr


@dataclass(frozen=True, slots=True)
class Call(Expr):
    target: Expr | None
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    value: Any


@dataclass(frozen=True, slots=True)
class ListLit(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class MapLit(Expr):
    entries: tuple[tuple[Expr, Expr], ...]


@dataclass(frozen=True, slots=True)
class StructLit(Expr):
    type_name: Expr
    fields: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True, slots=True)
class Op(Expr):
    op: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # ident | num | str | op | eof
    text: str
    value: Any
    pos: int


_WS = re.compile(r"(?:[ \t\n\r\f]+|//[^\n]*)+")
_IDENT = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_NUM = re.compile(
    r"0[xX][0-9a-fA-F]+[uU]?|(?:\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\.\d+(?:[eE][+-]?\d+)?)|\d+[uU]?"
)
_STR_START = re.compile(r"(?:[rR][bB]?|[bB][rR]?)?(?:'''|\"\"\"|'|\")")
_OPS = (
    *("==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "+", "-", "*", "/", "%", "?", ":", ".", ","),
    *("(", ")", "[", "]", "{", "}"),
)
_RESERVED = frozenset(
    "as break const continue else for function if import let loop package namespace return var void while".split()
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "`": "`", "?": "?", "a": "\a"}
_ESCAPES |= {"b": "\b", "f": "\f", "v": "\v"}


def tokenize(src: str) -> list[Token]:
    """Split a CEL expression into tokens (positions are character offsets)."""
    out: list[Token] = []
    i, n = 0, len(src)
    while True:
        m = _WS.match(src, i)
        if m:
            i = m.end()
        if i >= n:
            out.append(Token("eof", "", None, n))
            return out
        s = _STR_START.match(src, i)
        if s:
            i = _string(src, i, s.group(0), out)
            continue
        m = _NUM.match(src, i)
        if m and not (m.group(0).startswith(".") and out and out[-1].kind in ("ident", "num", "str")):
            text = m.group(0)
            try:
                value = _number(text)
            except ValueError:
                raise CelParseError("number out of range", i) from None
            out.append(Token("num", text, value, i))
            i = m.end()
            continue
        m = _IDENT.match(src, i)
        if m:
            out.append(Token("ident", m.group(0), m.group(0), i))
            i = m.end()
            continue
        for op in _OPS:
            if src.startswith(op, i):
                out.append(Token("op", op, op, i))
                i += len(op)
                break
        else:
            raise CelParseError(f"unexpected character {src[i]!r}", i)


def _number(text: str) -> Any:
    body = text.rstrip("uU")
    if body[:2] in ("0x", "0X"):
        return int(body, 16)
    if any(c in body for c in ".eE"):
        return float(body)
    return int(body)


def _string(src: str, start: int, opener: str, out: list[Token]) -> int:
    quote = opener.lstrip("rRbB")
    raw = any(c in "rR" for c in opener[: len(opener) - len(quote)])
    i = start + len(opener)
    chars: list[str] = []
    while True:
        if i >= len(src) or (len(quote) == 1 and src[i] == "\n"):
            raise CelParseError("unterminated string", start)
        if src.startswith(quote, i):
            out.append(Token("str", src[start : i + len(quote)], "".join(chars), start))
            return i + len(quote)
        if src[i] == "\\" and i + 1 < len(src):
            chars.append(src[i : i + 2] if raw else _ESCAPES.get(src[i + 1], src[i + 1]))
            i += 2
            continue
        chars.append(src[i])
        i += 1


_RELOPS = ("<", "<=", ">=", ">", "==", "!=", "in")


class _Parser:
    def __init__(self, src: str) -> None:
        self.toks = tokenize(src)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def at(self, text: str) -> bool:
        t = self.tok
        return t.kind == "op" and t.text == text or (text == "in" and t.kind == "ident" and t.text == "in")

    def take(self) -> Token:
        t = self.tok
        if t.kind != "eof":
            self.i += 1
        return t

    def expect(self, text: str) -> Token:
        if not self.at(text):
            raise CelParseError(f"expected '{text}'", self.tok.pos)
        return self.take()

    def parse(self) -> Expr:
        e = self.expr()
        if self.tok.kind != "eof":
            raise CelParseError(f"unexpected '{self.tok.text}'", self.tok.pos)
        return e

    def expr(self) -> Expr:
        cond = self.binary(0)
        if self.at("?"):
            pos = self.take().pos
            a = self.binary(0)
            self.expect(":")
            b = self.expr()
            return Op(pos, "?:", (cond, a, b))
        return cond

    _LEVELS: tuple[tuple[str, ...], ...] = (("||",), ("&&",), _RELOPS, ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> Expr:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while any(self.at(op) for op in self._LEVELS[level]):
            t = self.take()
            left = Op(t.pos, t.text, (left, self.binary(level + 1)))
        return left

    def unary(self) -> Expr:
        if self.at("!") or self.at("-"):
            t = self.take()
            return Op(t.pos, t.text, (self.unary(),))
        return self.member()

    def member(self) -> Expr:
        e = self.primary()
        while True:
            if self.at("."):
                self.take()
                name = self.ident()
                if self.at("("):
                    e = Call(name.pos, e, name.text, self.args(")"))
                else:
                    e = Select(name.pos, e, name.text)
            elif self.at("["):
                pos = self.take().pos
                idx = self.expr()
                self.expect("]")
                e = Index(pos, e, idx)
            elif self.at("{") and isinstance(e, Ident | Select):
                pos = self.take().pos
                e = StructLit(pos, e, self.field_inits())
            else:
                return e

    def ident(self) -> Token:
        t = self.tok
        if t.kind != "ident" or t.text in _RESERVED or t.text in ("true", "false", "null", "in"):
            raise CelParseError("expected an identifier", t.pos)
        return self.take()

    def args(self, closer: str) -> tuple[Expr, ...]:
        self.take()  # opener
        items: list[Expr] = []
        while not self.at(closer):
            items.append(self.expr())
            if not self.at(","):
                break
            self.take()
        self.expect(closer)
        return tuple(items)

    def field_inits(self) -> tuple[tuple[str, Expr], ...]:
        fields: list[tuple[str, Expr]] = []
        while not self.at("}"):
            name = self.ident().text
            self.expect(":")
            fields.append((name, self.expr()))
            if not self.at(","):
                break
            self.take()
        self.expect("}")
        return tuple(fields)

    def primary(self) -> Expr:
        t = self.tok
        if t.kind == "num" or t.kind == "str":
            self.take()
            return Literal(t.pos, t.value)
        if t.kind == "ident" and t.text in ("true", "false", "null"):
            self.take()
            return Literal(t.pos, {"true": True, "false": False, "null": None}[t.text])
        if self.at("."):
            self.take()
        if self.tok.kind == "ident":
            name = self.ident()
            if self.at("("):
                return Call(name.pos, None, name.text, self.args(")"))
            return Ident(name.pos, name.text)
        if self.at("("):
            self.take()
            e = self.expr()
            self.expect(")")
            return e
        if self.at("["):
            return ListLit(t.pos, self.args("]"))
        if self.at("{"):
            self.take()
            entries: list[tuple[Expr, Expr]] = []
            while not self.at("}"):
                k = self.expr()
                self.expect(":")
                entries.append((k, self.expr()))
                if not self.at(","):
                    break
                self.take()
            self.expect("}")
            return MapLit(t.pos, tuple(entries))
        raise CelParseError(f"unexpected '{t.text or 'end of expression'}'", t.pos)


def parse(src: str) -> Expr:
    """Parse a CEL expression into the small AST above; CelParseError on failure."""
    try:
        return _Parser(src).parse()
    except RecursionError:
        raise CelParseError("expression is nested too deeply", 0) from None
