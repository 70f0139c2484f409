# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Redis RDB files: their CRC-64 and what a file says of itself, read as a stream.

A backup file is checked while it is downloaded, chunk by chunk, so that a file of many
gigabytes is read once and never held in memory: ``Crc64`` checks the trailer and
``RdbScanner`` walks the structure (header, auxiliary fields, each database's select and
resize-db records, every key's type and length) without keeping any value.

The format is Redis's own (src/rdb.c, src/rdb.h, src/crc64.c); ../shared/API.md,
"The backup file", has the facts used here.
"""

from __future__ import annotations

import struct
from typing import Any, Dict, Generator, List, Optional, Tuple

# --- CRC-64/REDIS --------------------------------------------------------------------
# Jones polynomial, reflected in and out, initial value 0, no final xor. A Python loop
# over bytes runs at a few MB/s, so a library that computes it in C is used when the
# host has one (anycrc, or crcmod with its C extension); else the Python loop, which is
# correct and says it is the slow path (CRC_IMPLEMENTATION).
CRC_POLY_REFLECTED = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9 bit-reversed
CRC_CHECK = (b"123456789", 0xE9C6D914C4B8D9CA)


def _tables() -> List[List[int]]:
    """The byte table, and the seven more that slicing-by-8 needs (8 bytes per step)."""
    first = []
    for byte in range(256):
        crc = byte
        for _bit in range(8):
            crc = (crc >> 1) ^ CRC_POLY_REFLECTED if crc & 1 else crc >> 1
        first.append(crc)
    tables = [first]
    for _table in range(7):
        tables.append([(crc >> 8) ^ first[crc & 0xFF] for crc in tables[-1]])
    return tables


_TABLES = _tables()


def crc64_python(data: bytes, crc: int = 0) -> int:
    """CRC-64/REDIS of ``data`` continuing from ``crc``, in plain Python (slow: about 6 MB/s)."""
    t0, t1, t2, t3, t4, t5, t6, t7 = _TABLES
    view = memoryview(data).cast("B")
    whole = len(view) - len(view) % 8
    for (word,) in struct.iter_unpack("<Q", view[:whole]):
        x = crc ^ word
        crc = (t7[x & 0xFF] ^ t6[(x >> 8) & 0xFF] ^ t5[(x >> 16) & 0xFF] ^ t4[(x >> 24) & 0xFF]
               ^ t3[(x >> 32) & 0xFF] ^ t2[(x >> 40) & 0xFF] ^ t1[(x >> 48) & 0xFF] ^ t0[x >> 56])
    for byte in view[whole:]:
        crc = t0[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def _fast_crc64():
    """(name, function) of a C implementation of CRC-64/REDIS on this host, or None."""
    try:
        import anycrc  # pylint: disable=import-outside-toplevel

        model = anycrc.Model("CRC64-REDIS")
        if model.calc(CRC_CHECK[0]) == CRC_CHECK[1]:
            return "anycrc", lambda data, crc=0: model.calc(data, crc)
    except Exception:  # pylint: disable=broad-exception-caught  # absent or unusable: try the next
        pass
    try:
        import crcmod  # pylint: disable=import-outside-toplevel
        from crcmod import _crcfunext  # noqa: F401  # pylint: disable=import-outside-toplevel,unused-import

        # Only with its C extension (the import above fails without it): crcmod's pure-Python fallback is
        # no faster than ours.
        function = crcmod.mkCrcFun(0x1AD93D23594C935A9, initCrc=0, rev=True, xorOut=0)
        if function(CRC_CHECK[0]) == CRC_CHECK[1]:
            return "crcmod", function
    except Exception:  # pylint: disable=broad-exception-caught
        pass
    return None


_FAST = _fast_crc64()
# What computes the CRC here: "anycrc", "crcmod", or "python" (the slow path).
CRC_IMPLEMENTATION = _FAST[0] if _FAST else "python"
crc64 = _FAST[1] if _FAST else crc64_python


class Crc64:
    """A running CRC-64/REDIS."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = crc64(data, self.value)


# --- what a file is --------------------------------------------------------------------

_MAGICS = (
    (b"\x1f\x8b", "gzip data"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"BZh", "bzip2 data"),
    (b"\xfd7zXZ\x00", "xz data"),
    (b"\x28\xb5\x2f\xfd", "zstd data"),
    (b"\x04\x22\x4d\x18", "LZ4 data"),
    (b"*", "Redis protocol (an AOF file?)"),
)


def what_it_is(head: bytes) -> str:
    """What a file that is not an RDB file looks like, from its first bytes, for an error."""
    if not head:
        return "an empty file"
    for magic, name in _MAGICS:
        if head.startswith(magic):
            return name
    text = head.lstrip()[:64].lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "an HTML page"
    if text.startswith(b"<"):
        return "XML"
    if text.startswith((b"{", b"[")):
        return "JSON"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary data of an unknown kind"
    return "text"


# --- the RDB structure -----------------------------------------------------------------

HEADER_SIZE = 9
NEWEST_KNOWN_VERSION = 12  # Redis 7.4
FIRST_CHECKSUMMED_VERSION = 5
TRAILER_SIZE = 8
END_MARKER = 0xFF

_OP_SLOT_INFO, _OP_FUNCTION2, _OP_FUNCTION_PRE_GA, _OP_MODULE_AUX = 0xF4, 0xF5, 0xF6, 0xF7
_OP_IDLE, _OP_FREQ, _OP_AUX, _OP_RESIZEDB = 0xF8, 0xF9, 0xFA, 0xFB
_OP_EXPIRETIME_MS, _OP_EXPIRETIME, _OP_SELECTDB, _OP_EOF = 0xFC, 0xFD, 0xFE, 0xFF

# Value types that are one string (an encoded blob), and those that are n strings.
_ONE_STRING_TYPES = frozenset((9, 10, 11, 12, 13, 16, 17, 20))  # zipmap, ziplists, intset, listpacks
_TYPE_NAMES = {0: "string", 1: "list", 2: "set", 3: "zset", 4: "hash", 5: "zset", 6: "module", 7: "module",
               14: "list", 15: "stream", 18: "list", 19: "stream", 21: "stream"}
_MODULE_OPCODES = {1: None, 2: None, 3: 4, 4: 8}  # SINT and UINT are lengths; FLOAT 4 bytes, DOUBLE 8

Step = Tuple[str, int]  # ("read", n): hand me n bytes; ("skip", n): pass n bytes by


class RdbError(ValueError):
    """The bytes are not a well-formed RDB file."""


class _Stop(Exception):
    """A value this reader cannot walk past: the keys after it are not counted."""


class RdbScanner:
    """Reads an RDB file fed in order, in chunks of any size, keeping no value.

    ``feed`` takes the bytes as they come; ``facts()`` then tells what the file says of
    itself. A structure error does not stop the feeding (the size and the checksum are
    still worth checking first): it is kept in ``error``.
    """

    def __init__(self, walk_keys: bool = False, expiry_cuts: Tuple[int, ...] = ()) -> None:
        self.walk_keys = walk_keys
        # Times (ms since the epoch): with the walk, each database's keys whose expiry is at or before each
        # of them are counted (``tallies``). The resize-db record counts keys with an expiry, not when they
        # expire: only the walk, which reads every key's expiry record, can tell.
        self.expiry_cuts = tuple(expiry_cuts)
        self.tallies: List[Dict[str, Any]] = []
        self.offset = 0  # bytes fed
        self.version: Optional[int] = None
        self.aux: Dict[str, str] = {}
        self.databases: List[Dict[str, int]] = []
        self.error: Optional[str] = None  # the first structure error, with its offset
        self.stopped: Optional[str] = None  # why the walk stopped before the end marker, if it did
        self.ended = False  # the end marker (and the checksum, when the version has one) was read
        self.trailer: Optional[bytes] = None
        self.extra = 0  # bytes after the end
        self._at = 0  # where the walk is in the file, for messages
        self._buffer = bytearray()
        self._need = 0
        self._skip = 0
        self._walk: Optional[Generator[Step, Optional[bytes], None]] = self._steps()
        self._next(None)

    # the driver
    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        size = len(view)
        position = 0
        while position < size:
            if self._walk is None:  # done, or given up: the rest is only counted
                if self.ended:
                    self.extra += size - position
                break
            if self._skip:
                taken = min(self._skip, size - position)
                self._skip -= taken
                position += taken
                if not self._skip:
                    self._at = self.offset + position
                    self._next(None)
                continue
            taken = min(self._need - len(self._buffer), size - position)
            self._buffer += view[position:position + taken]
            position += taken
            if len(self._buffer) == self._need:
                self._at = self.offset + position
                chunk = bytes(self._buffer)
                self._buffer.clear()
                self._next(chunk)
        self.offset += size

    def _next(self, value: Optional[bytes]) -> None:
        try:
            kind, count = self._walk.send(value)  # type: ignore[union-attr]
        except StopIteration:
            self._walk = None
            return
        except _Stop as stop:
            self.stopped = str(stop)
            self._walk = None
            return
        except RdbError as exc:
            self.error = "%s (at byte %d)" % (exc, self._at)
            self._walk = None
            return
        if kind == "read":
            self._need = count
        else:
            self._skip = count
            if not count:
                self._next(None)

    # the walk: a generator that asks for bytes
    def _read(self, count: int) -> Generator[Step, Optional[bytes], bytes]:
        data = yield ("read", count)
        return data  # type: ignore[return-value]

    def _byte(self) -> Generator[Step, Optional[bytes], int]:
        data = yield ("read", 1)
        return data[0]  # type: ignore[index]

    def _length(self) -> Generator[Step, Optional[bytes], Tuple[int, bool]]:
        """(length, encoded): Redis's length encoding; encoded is true for a special string encoding."""
        first = yield from self._byte()
        kind = first >> 6
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            second = yield from self._byte()
            return ((first & 0x3F) << 8) | second, False
        if kind == 3:
            return first & 0x3F, True
        if first == 0x80:
            data = yield from self._read(4)
            return struct.unpack(">I", data)[0], False
        if first == 0x81:
            data = yield from self._read(8)
            return struct.unpack(">Q", data)[0], False
        raise RdbError("unknown length encoding 0x%02x" % first)

    def _count(self) -> Generator[Step, Optional[bytes], int]:
        value, encoded = yield from self._length()
        if encoded:
            raise RdbError("a count where a string encoding was found")
        return value

    def _string(self, keep: bool = False) -> Generator[Step, Optional[bytes], Optional[bytes]]:
        """A string: its bytes when ``keep`` (small ones only: aux fields), else passed by."""
        length, encoded = yield from self._length()
        if encoded:
            if length in (0, 1, 2):  # an integer of 1, 2 or 4 bytes, little-endian, signed
                data = yield from self._read(1 << length)
                return str(int.from_bytes(data, "little", signed=True)).encode("ascii") if keep else None
            if length == 3:  # LZF: compressed length, uncompressed length, then the compressed bytes
                compressed = yield from self._count()
                yield from self._count()
                yield ("skip", compressed)
                return None
            raise RdbError("unknown string encoding %d" % length)
        if keep and length <= 4096:
            data = yield from self._read(length)
            return data
        yield ("skip", length)
        return None

    def _steps(self) -> Generator[Step, Optional[bytes], None]:
        header = yield from self._read(HEADER_SIZE)
        if not header.startswith(b"REDIS") or not header[5:].isdigit():
            raise RdbError("no RDB header")
        self.version = int(header[5:])
        if not 1 <= self.version <= NEWEST_KNOWN_VERSION:
            raise _Stop("RDB version %d is newer than this reader knows (%d)" % (self.version, NEWEST_KNOWN_VERSION))
        database: Optional[Dict[str, int]] = None
        tally: Optional[Dict[str, Any]] = None
        expiry: Optional[int] = None  # the expiry record of the key that comes next (ms), if it has one
        while True:
            opcode = yield from self._byte()
            if opcode == _OP_EOF:
                break
            if opcode == _OP_AUX:
                key = yield from self._string(keep=True)
                value = yield from self._string(keep=True)
                if key is not None and value is not None and len(self.aux) < 64:
                    self.aux[key.decode("utf-8", "replace")[:64]] = value.decode("utf-8", "replace")[:256]
            elif opcode == _OP_SELECTDB:
                number = yield from self._count()
                database = {"db": number, "key_count": 0, "expires_count": 0}
                self.databases.append(database)
                tally = {"db": number, "keys": 0, "expiring": 0, "expired": [0] * len(self.expiry_cuts)}
                self.tallies.append(tally)
            elif opcode == _OP_RESIZEDB:
                keys = yield from self._count()
                expires = yield from self._count()
                if database is None:
                    raise RdbError("a resize-db record before any select-db")
                database.update(key_count=keys, expires_count=expires)
            elif opcode == _OP_EXPIRETIME_MS:  # little-endian, as Redis writes it on every common (little-endian) host
                data = yield from self._read(8)
                expiry = struct.unpack("<q", data)[0]
            elif opcode == _OP_EXPIRETIME:  # seconds: RDB versions before 3
                data = yield from self._read(4)
                expiry = struct.unpack("<i", data)[0] * 1000
            elif opcode == _OP_FREQ:
                yield ("skip", 1)
            elif opcode == _OP_IDLE:
                yield from self._count()
            elif opcode == _OP_SLOT_INFO:
                for _number in range(3):
                    yield from self._count()
            elif opcode == _OP_FUNCTION2:
                yield from self._string()
            elif opcode == _OP_MODULE_AUX:
                for _number in range(3):  # module id, when-opcode, when
                    yield from self._count()
                yield from self._module_value()
            elif opcode == _OP_FUNCTION_PRE_GA:
                raise _Stop("a Redis 7.0 release-candidate function record")
            else:
                if not self.walk_keys:
                    return  # the first key: the records before it are read, and walking on costs a few us a key
                if tally is None:  # Redis loads such keys into db 0
                    tally = {"db": 0, "keys": 0, "expiring": 0, "expired": [0] * len(self.expiry_cuts)}
                    self.tallies.append(tally)
                yield from self._string()  # the key
                yield from self._value(opcode)
                tally["keys"] += 1
                if expiry is not None:
                    tally["expiring"] += 1
                    for index, cut in enumerate(self.expiry_cuts):
                        if expiry <= cut:
                            tally["expired"][index] += 1
                    expiry = None
        if self.version >= FIRST_CHECKSUMMED_VERSION:
            self.trailer = yield from self._read(TRAILER_SIZE)
        self.ended = True

    def _value(self, kind: int) -> Generator[Step, Optional[bytes], None]:
        if kind == 0 or kind in _ONE_STRING_TYPES:
            yield from self._string()
        elif kind in (1, 2, 14):  # list, set, quicklist: n strings
            for _item in range((yield from self._count())):
                yield from self._string()
        elif kind == 4:  # hash: n field-value pairs
            for _item in range(2 * (yield from self._count())):
                yield from self._string()
        elif kind == 3:  # zset: n members, each with a score as a short string
            for _item in range((yield from self._count())):
                yield from self._string()
                length = yield from self._byte()
                if length < 253:
                    yield ("skip", length)
        elif kind == 5:  # zset2: n members, each with an 8-byte double
            for _item in range((yield from self._count())):
                yield from self._string()
                yield ("skip", 8)
        elif kind == 18:  # quicklist2: n nodes, each a container kind and a string
            for _item in range((yield from self._count())):
                yield from self._count()
                yield from self._string()
        elif kind in (15, 19, 21):
            yield from self._stream(kind)
        elif kind == 7:
            yield from self._count()  # module id
            yield from self._module_value()
        elif kind == 6:
            raise _Stop("a value of a module of the first module format")
        else:
            raise _Stop("a value of type %d, which this reader does not know" % kind)

    def _module_value(self) -> Generator[Step, Optional[bytes], None]:
        while True:
            opcode = yield from self._count()
            if opcode == 0:
                return
            if opcode == 5:
                yield from self._string()
            elif opcode in _MODULE_OPCODES:
                size = _MODULE_OPCODES[opcode]
                if size is None:
                    yield from self._count()
                else:
                    yield ("skip", size)
            else:
                raise RdbError("unknown module value opcode %d" % opcode)

    def _stream(self, kind: int) -> Generator[Step, Optional[bytes], None]:
        for _item in range((yield from self._count())):  # listpacks: a master id and a listpack each
            yield from self._string()
            yield from self._string()
        for _item in range(3):  # length, last id (ms, seq)
            yield from self._count()
        if kind >= 19:
            for _item in range(5):  # first id, max deleted id, entries added
                yield from self._count()
        for _group in range((yield from self._count())):
            yield from self._string()  # name
            for _item in range(3 if kind >= 19 else 2):  # last id, entries read
                yield from self._count()
            for _pending in range((yield from self._count())):
                yield ("skip", 16 + 8)  # raw id, delivery time
                yield from self._count()  # delivery count
            for _consumer in range((yield from self._count())):
                yield from self._string()
                yield ("skip", 16 if kind >= 21 else 8)  # seen time (and active time)
                for _pending in range((yield from self._count())):
                    yield ("skip", 16)

    # what it says
    def key_tallies(self) -> List[Dict[str, Any]]:
        """Per database of the walk, in file order: ``keys`` walked, ``expiring`` (those with an expiry) and
        ``expired``, for each of ``expiry_cuts``, the keys whose expiry is at or before it."""
        return [dict(tally, expired=list(tally["expired"])) for tally in self.tallies]

    def facts(self) -> Dict[str, Any]:
        """The file's own account of itself: versions, creation time, keys per database."""
        ctime = self.aux.get("ctime")
        created = int(ctime) if ctime is not None and ctime.strip().lstrip("-").isdigit() else None
        return {
            "rdb_version": self.version,
            "redis_version": self.aux.get("redis-ver"),
            "created": created,
            "databases": [dict(database) for database in self.databases],
            "key_count": sum(database["key_count"] for database in self.databases),
            "expires_count": sum(database["expires_count"] for database in self.databases),
            "databases_complete": self.ended,
        }
