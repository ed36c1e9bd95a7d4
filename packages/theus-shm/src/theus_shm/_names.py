"""Segment names: the seed ``theus:{session}:{pid}:{key}`` encoded as a portable POSIX name.

Encoding (documented in the README)::

    th_<session>_<pid36>_<hash10>        e.g. th_a1b2c3d4_2lkc_k3n9xq7wbe

- ``th_``: the theus prefix; never ``psm_`` / ``wnsm_`` (the prefixes of the stdlib and
  its resource tracker), so ``multiprocessing`` never mistakes a theus segment for its own.
- ``<session>``: the session itself when it is 1-8 characters of ``[0-9a-z]`` (generated
  sessions are), else the first 8 hex digits of its BLAKE2b hash.
- ``<pid36>``: the owner's PID in base 36 (at most 6 characters for any 31-bit PID).
- ``<hash10>``: 10 base-32 characters (50 bits) of the BLAKE2b hash of the whole seed.

The result is at most 29 characters from ``[0-9a-z_]``: with the leading ``/`` that
``shm_open`` wants, at most 30, within macOS's limit (PSHMNAMLEN is 31). The full session
and key are stored in the segment header, so nothing is lost by hashing.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import secrets

from .exceptions import InvalidArgument, InvalidName

PREFIX = "th_"
MAX_NAME_LEN = 29  # without the leading slash; 30 with it
RESERVED_PREFIXES = ("psm_", "wnsm_")
MAX_KEY_BYTES = 1024
MAX_SESSION_BYTES = 256

_TOKEN = re.compile(r"[0-9a-z]{1,8}")
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_session() -> str:
    """A fresh random session id (8 hex characters, used verbatim in names)."""
    return secrets.token_hex(4)


def check_text(argument: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(argument, value, "must be a str")
    if not value:
        raise InvalidArgument(argument, value, "must not be empty")
    if "\x00" in value:
        raise InvalidArgument(argument, value, "must not contain NUL")
    if value.isascii():  # encodable, one byte per character
        size = len(value)
    else:
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise InvalidArgument(argument, value, "must be encodable as UTF-8") from exc
    if size > limit:
        raise InvalidArgument(argument, value, f"longer than {limit} UTF-8 bytes")
    return value


def base36(n: int) -> str:
    if n < 0:
        raise ValueError(n)
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
        if n == 0:
            return out


def encode_session(session: str) -> str:
    if _TOKEN.fullmatch(session):
        return session
    return hashlib.blake2b(session.encode("utf-8"), digest_size=4).hexdigest()


def seed(session: str, pid: int, key: str) -> str:
    return f"theus:{session}:{pid}:{key}"


@functools.lru_cache(maxsize=4096)
def segment_name(session: str, pid: int, key: str) -> str:
    """The segment name for ``key`` owned by ``pid`` in ``session`` (deterministic)."""
    digest = hashlib.blake2b(seed(session, pid, key).encode("utf-8"), digest_size=8).digest()
    tail = base64.b32encode(digest).decode("ascii").lower()[:10]
    return f"{PREFIX}{encode_session(session)}_{base36(pid)}_{tail}"


def session_prefix(session: str) -> str:
    """Every segment of ``session`` has a name starting with this."""
    return f"{PREFIX}{encode_session(session)}_"


def normalize(name: object) -> str:
    """Validate a segment name and return it without a leading slash."""
    if not isinstance(name, str):
        raise InvalidName(name, "must be a str")
    return _normalize(name)


@functools.lru_cache(maxsize=4096)
def _normalize(name: str) -> str:
    bare = name[1:] if name.startswith("/") else name
    if not bare:
        raise InvalidName(name, "empty")
    if len(bare) > MAX_NAME_LEN:
        raise InvalidName(name, f"longer than {MAX_NAME_LEN} characters (macOS limit)")
    if not _NAME.fullmatch(bare) or bare in (".", ".."):
        raise InvalidName(name, "only letters, digits, '_', '-' and '.' are allowed")
    if bare.startswith(RESERVED_PREFIXES):
        raise InvalidName(name, "prefix reserved by multiprocessing.shared_memory")
    return bare
