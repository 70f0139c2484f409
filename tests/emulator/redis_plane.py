# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The emulator's data plane: a real ``redis-server`` behind a Redis group (server.py uses it).

Standard library only. Each server listens on 127.0.0.1 on a free port, in its own folder under one
temporary folder of the plane (removed by close()), with a config file (mode 0600, so that the
password is never on a command line) that sets ``requirepass``, ``save ""``, ``appendonly no``,
``daemonize no`` and a small ``maxmemory``.

No server outlives the process that started it: every one is forked by one long-lived spawner
thread with PR_SET_PDEATHSIG = SIGKILL (Linux: the kernel kills the child when the *thread* that
forked it ends, which is why request threads never fork), close() stops them (SIGTERM, then
SIGKILL), and an atexit hook closes every plane still open.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref

REDIS_SERVER = "redis-server"
MAXMEMORY = "64mb"  # plenty for thin files and the known data set
READY_SECONDS = 30.0  # how long a server may take to load its file and answer PING
STOP_SECONDS = 2.0  # SIGTERM, then SIGKILL after this
CALL_SECONDS = 5.0  # the deadline of one exchange with a server
PR_SET_PDEATHSIG = 1


class RedisError(Exception):
    """A server that did not start, load or answer; or its error reply (the message)."""


class PortTaken(RedisError):
    """Another process bound the server's port between its choice and the server's start."""


def find_redis_server():
    """The path of redis-server, or None (not on PATH, or not Linux: the lifetime guarantee needs prctl)."""
    if not sys.platform.startswith("linux"):
        return None
    return shutil.which(REDIS_SERVER)


# --- a minimal RESP client (the emulator stays standard-library only) ----------------------

def _encode(args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode("utf-8")
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _reply(reader):
    line = reader.readline()
    if not line.endswith(b"\r\n"):
        raise RedisError("the server closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode("utf-8", "replace")
    if kind == b"-":
        return RedisError(rest.decode("utf-8", "replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        if int(rest) < 0:
            return None
        data = reader.read(int(rest) + 2)
        return data[:-2]
    if kind == b"*":
        return None if int(rest) < 0 else [_reply(reader) for _index in range(int(rest))]
    raise RedisError("not a RESP reply: %r" % line[:40])


def call(port, password, *commands, timeout=CALL_SECONDS):
    """Send ``commands`` (tuples of arguments) on one connection (AUTH first when ``password``);
    return their replies. An error reply raises RedisError; so does a connection that fails."""
    if password:
        commands = (("AUTH", password),) + commands
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"".join(_encode(command) for command in commands))
            with sock.makefile("rb") as reader:
                replies = [_reply(reader) for _command in commands]
    except OSError as exc:
        raise RedisError("cannot talk to redis-server on port %d: %s" % (port, exc.strerror or exc))
    for reply in replies:
        if isinstance(reply, RedisError):
            raise reply
    return replies[1:] if password else replies


# --- the spawner: one long-lived thread forks every server ---------------------------------

def _die_with_parent(parent):
    def preexec():
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: the signal would never come
            os._exit(1)
    return preexec


_SPAWN_QUEUE = queue.Queue()
_SPAWNER = []
_SPAWNER_LOCK = threading.Lock()


def _spawner():
    while True:
        argv, cwd, answer = _SPAWN_QUEUE.get()
        try:
            answer.put(subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent(os.getpid()),
                                        close_fds=True))
        except OSError as exc:
            answer.put(exc)


def _spawn(argv, cwd):
    with _SPAWNER_LOCK:
        if not _SPAWNER:  # a daemon thread that lives as long as the process: its children die with it
            thread = threading.Thread(target=_spawner, name="redis-spawner", daemon=True)
            thread.start()
            _SPAWNER.append(thread)
    answer = queue.Queue()
    _SPAWN_QUEUE.put((argv, cwd, answer))
    made = answer.get()
    if isinstance(made, OSError):
        raise RedisError("cannot start redis-server: %s" % (made.strerror or made))
    return made


def _quoted(text):
    """A redis.conf argument that is exactly ``text``: every byte as \\xHH inside double quotes."""
    return '"%s"' % "".join("\\x%02x" % byte for byte in text.encode("utf-8"))


PORTS = (20000, 32767)  # below Linux's ephemeral range: outgoing connections do not take these


def free_ports(count):
    """``count`` distinct free ports of 127.0.0.1 (held together while picked, so never twice)."""
    socks = []
    try:
        while len(socks) < count:
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", random.randint(*PORTS)))
            except OSError:
                sock.close()
                continue
            socks.append(sock)
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


class Server:
    """One redis-server: ``port``, ``password``, ``folder`` (its files), ``process``."""

    def __init__(self, folder, port, password, process):
        self.folder, self.port, self.password, self.process = folder, port, password, process

    @property
    def pid(self):
        return self.process.pid

    def call(self, *commands):
        return call(self.port, self.password, *commands)

    def wait_ready(self, seconds=READY_SECONDS):
        """Wait until the server has loaded its file and answers PING; RedisError (with the end of its
        log) when it exits or the time is up."""
        deadline = time.monotonic() + seconds
        while True:
            if self.process.poll() is not None:
                if "Address already in use" in self.log_tail():
                    raise PortTaken("port %d is taken" % self.port)
                raise RedisError("redis-server exited (%s): %s" % (self.process.returncode, self.log_tail()))
            try:
                if self.call(("PING",)) == ["PONG"]:
                    return
            except RedisError as exc:
                if time.monotonic() > deadline:
                    raise RedisError("redis-server did not answer in %.0f s: %s" % (seconds, exc))
            time.sleep(0.01)

    def log_tail(self):
        try:
            with open(os.path.join(self.folder, "redis.log"), "rb") as handle:
                lines = handle.read()[-2000:].decode("utf-8", "replace").splitlines()
        except OSError:
            return "no log"
        return " | ".join(line.split(" * ", 1)[-1].split(" # ", 1)[-1] for line in lines[-3:])

    def stop(self):
        """SIGTERM, wait, SIGKILL; then remove its files."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


class Plane:
    """The redis-servers of one emulator, in one temporary folder; close() stops them all."""

    def __init__(self, redis_server):
        self.redis_server = redis_server
        self.folder = tempfile.mkdtemp(prefix="sigcalcloud-emulator-redis-")
        self._servers = {}  # id(Server) -> Server
        self._lock = threading.Lock()
        self._closed = False
        self._count = 0
        _OPEN.add(self)

    def new_folder(self):
        """A new empty folder for a server (write its dump.rdb there before start())."""
        with self._lock:
            self._count += 1
            folder = os.path.join(self.folder, "server-%d" % self._count)
        os.mkdir(folder)
        return folder

    def start(self, folder, password=None, port=None):
        """Start a redis-server in ``folder`` (loading its dump.rdb, if any); returns the Server, not yet ready."""
        port = port or free_ports(1)[0]
        settings = ["bind 127.0.0.1", "port %d" % port, "dir %s" % _quoted(folder), "dbfilename dump.rdb",
                    'save ""', "appendonly no", "daemonize no", "maxmemory %s" % MAXMEMORY,
                    "logfile %s" % _quoted(os.path.join(folder, "redis.log"))]
        if password:
            settings.append("requirepass %s" % _quoted(password))
        config = os.path.join(folder, "redis.conf")
        with open(os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            handle.write("\n".join(settings) + "\n")
        with self._lock:
            if self._closed:
                raise RedisError("the emulator is stopping")
            process = _spawn([self.redis_server, config], folder)
            server = self._servers[id(process)] = Server(folder, port, password, process)
        return server

    def ready(self, server, tries=5):
        """Wait until ``server`` is ready (Server.wait_ready); returns it, or the server started again on
        another port when someone took its port first (then ``server`` is gone). On failure the server is
        stopped and its files removed, then RedisError."""
        for attempt in range(tries):
            try:
                server.wait_ready()
                return server
            except PortTaken:
                if attempt == tries - 1:
                    self.stop(server)
                    raise
                with self._lock:
                    self._servers.pop(id(server.process), None)
                for name in ("redis.conf", "redis.log"):
                    os.remove(os.path.join(server.folder, name))
                server = self.start(server.folder, server.password)
            except RedisError:
                self.stop(server)
                raise
        return server

    def stop(self, server):
        with self._lock:
            self._servers.pop(id(server.process), None)
        server.stop()

    def pids(self):
        with self._lock:
            return sorted(server.pid for server in self._servers.values())

    def close(self):
        """Stop every server (SIGTERM all, then wait) and remove the plane's folder."""
        with self._lock:
            self._closed = True
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            if server.process.poll() is None:
                server.process.terminate()
        for server in servers:
            server.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
        _OPEN.discard(self)


_OPEN = weakref.WeakSet()


@atexit.register
def _close_all():
    for plane in list(_OPEN):
        plane.close()
