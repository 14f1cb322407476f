import sys, time, subprocess, re
sys.path.insert(0, "/tmp/redisref")
from lib import Conn, Rec, cmd

M, R, A = 7601, 7602, 7603
rec = Rec("/tmp/redis-reference.md")
ver = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip()

def start_master():
    subprocess.run(["redis-server", "--port", "7601", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--daemonize", "yes", "--dir", "/tmp/redisref", "--logfile", "/tmp/redisref/m.log"])
    time.sleep(0.5)

def wait_replica_connected(timeout=20):
    t0 = time.time()
    while time.time() - t0 < timeout:
        c = Conn(R); r = c.c("ROLE"); c.close()
        if b"connected" in r: return True
        time.sleep(0.5)
    return False

rec.w("# Redis 7.0 raw reply reference")
rec.w()
rec.w("`redis-server --version`:")
rec.w()
rec.w("```")
rec.w(ver)
rec.w("```")
rec.w()
rec.w("Servers: master `redis-server --port 7601 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --dir /tmp/redisref --logfile ...`, "
      "replica on 7602 (same + `--replicaof 127.0.0.1 7601`), separate auth instance on 7603. No config file. "
      "All replies are Python `repr()` of the exact bytes read from a raw TCP socket (read until 0.3 s of silence unless noted). "
      "'connection closed by server' means recv() returned b'' after the reply.")
rec.w()
assert wait_replica_connected()
c0 = Conn(M); c0.c("FLUSHALL"); c0.c("CONFIG", "RESETSTAT"); c0.close()

# ---------------------------------------------------------------- basics
rec.h("1. Basics: PING / ECHO / SELECT / QUIT")
c = Conn(M)
for args in [("PING",), ("PING", "hello"), ("PING", "a", "b"), ("ping",), ("ECHO", "x"), ("ECHO",), ("ECHO", "a", "b"),
             ("SELECT", "0"), ("SELECT", "1"), ("SELECT", "15"), ("SELECT", "16"), ("SELECT", "-1"), ("SELECT", "abc"),
             ("SELECT",), ("SELECT", "0")]:
    rec.c(c, *args)
rec.c(c, "QUIT", probe_close=True)
c.close()
c = Conn(M)
rec.c(c, "QUIT", "extra", probe_close=True, label="QUIT with extra arg")
c.close()
rec.note("Empty-string bulk / binary echo")
c = Conn(M)
rec.c(c, "ECHO", "")
rec.c(c, "ECHO", "a\r\nb")
c.close()

rec.h("2. Unknown commands and arity errors")
c = Conn(M)
for args in [("FOO", "a", "b"), ("foo",), ("FOO", "a" * 200), ("FOO", "a", "b", "c", "d", "e"), ("GET",), ("SET", "k"), ("get", "a", "b"),
             ("CONFIG",), ("CONFIG", "GET"), ("CLIENT",), ("client", "kill"), ("DEL",), ("EXISTS",), ("MGET",), ("INCR",), ("", )]:
    rec.c(c, *args)
c.close()

# ---------------------------------------------------------------- strings
rec.h("3. Strings / keys")
c = Conn(M)
rec.c(c, "FLUSHALL")
for args in [("SET", "k", "v"), ("SET", "k", "v", "NX"), ("SET", "k", "v", "XX"), ("SET", "nx1", "v", "NX"), ("SET", "xx1", "v", "XX"),
             ("SET", "k", "v", "EX", "10"), ("TTL", "k"), ("SET", "k", "v", "PX", "100000"), ("PTTL", "k"),
             ("SET", "k", "v", "EX", "0"), ("SET", "k", "v", "EX", "-1"), ("SET", "k", "v", "EX", "abc"), ("SET", "k", "v", "PX", "0"),
             ("SET", "k", "v", "EX"), ("SET", "k", "v", "EX", "9999999999999999"),
             ("SET", "k", "v", "NX", "XX"), ("SET", "k", "v1"), ("SET", "k", "v2", "GET"), ("SET", "newkey", "v", "GET"), ("SET", "k", "v", "BADOPT"),
             ("SET", "k", "v", "EX", "10", "PX", "10"), ("SET", "k", "v", "EX", "100"), ("SET", "k", "v", "KEEPTTL"), ("TTL", "k"),
             ("SET", "k", "v", "EX", "10", "KEEPTTL"), ("set", "k", "v", "ex", "10", "nx"), ("SET", "k", "v", "EXAT", "1"), ("SET", "k", "v", "nx", "get")]:
    rec.c(c, *args)
rec.case(c, cmd("SET", "k", "v", "PX", "100") + cmd("PTTL", "k"), label="pipelined SET PX 100 + PTTL")
rec.case(c, cmd("SET", "k", "v", "EX", "10") + cmd("TTL", "k") + cmd("PTTL", "k"), label="pipelined SET EX 10 + TTL + PTTL")
rec.h("GET / GETDEL / DEL / EXISTS", 3)
rec.c(c, "SET", "k", "v")
for args in [("GET", "k"), ("GET", "missing"), ("GETDEL", "k"), ("GETDEL", "k"), ("MSET", "a", "1", "b", "2"),
             ("DEL", "a", "b", "c"), ("SET", "a", "1"), ("EXISTS", "a", "a", "b"), ("EXISTS", "zz")]:
    rec.c(c, *args)
rec.h("Wrong type", 3)
for args in [("LPUSH", "l", "x"), ("GET", "l"), ("INCR", "l"), ("APPEND", "l", "x"), ("STRLEN", "l"), ("GETDEL", "l"), ("DEL", "l")]:
    rec.c(c, *args)
rec.h("INCR / DECR / APPEND / STRLEN", 3)
for args in [("SET", "s", "abc"), ("INCR", "s"), ("SET", "n", "9223372036854775807"), ("INCR", "n"), ("INCRBY", "n", "abc"),
             ("INCRBY", "n", "1"), ("SET", "n", "-9223372036854775808"), ("DECR", "n"), ("DECRBY", "n", "1"),
             ("SET", "n", "10"), ("INCR", "n"), ("INCRBY", "n", "-5"), ("DECR", "n"), ("DECRBY", "n", "3"), ("DECR", "newctr"),
             ("INCR", "newctr2"), ("SET", "f", "1.5"), ("INCR", "f"), ("SET", "sp", " 1"), ("INCR", "sp"), ("SET", "big", "99999999999999999999"), ("INCR", "big"),
             ("INCRBY", "n", "9223372036854775808"), ("APPEND", "ap", "hello"), ("APPEND", "ap", " world"), ("GET", "ap"),
             ("STRLEN", "ap"), ("STRLEN", "missing"), ("INCR", "ap")]:
    rec.c(c, *args)
rec.h("MGET / MSET", 3)
for args in [("MGET", "a", "b"), ("MGET", "a", "missing", "ap"), ("MSET", "a", "1", "b"), ("MSET", "a", "1", "b", "2"), ("MGET", "a", "b")]:
    rec.c(c, *args)
rec.h("EXPIRE / TTL / PERSIST", 3)
for args in [("SET", "k", "v"), ("TTL", "k"), ("PTTL", "k"), ("TTL", "missing"), ("PTTL", "missing"),
             ("EXPIRE", "k", "10"), ("TTL", "k"), ("EXPIRE", "k", "abc"), ("EXPIRE", "k", "10", "NX"), ("EXPIRE", "k", "20", "XX"),
             ("EXPIRE", "k", "5", "GT"), ("EXPIRE", "k", "5", "LT"), ("EXPIRE", "k", "10", "NX", "XX"), ("EXPIRE", "k", "10", "BAD"),
             ("EXPIRE", "missing", "10"), ("PEXPIRE", "k", "100000"), ("PTTL", "k"), ("PEXPIRE", "k", "abc"),
             ("PERSIST", "k"), ("PERSIST", "k"), ("PERSIST", "missing"), ("TTL", "k"),
             ("EXPIRE", "k", "0"), ("EXISTS", "k"), ("SET", "k", "v"), ("EXPIRE", "k", "-1"), ("EXISTS", "k"),
             ("EXPIRE", "k"), ("EXPIRE", "k", "9223372036854775807"), ("SET", "k", "v"), ("EXPIRE", "k", "9223372036854775807"),
             ("PEXPIRE", "k", "9223372036854775807")]:
    rec.c(c, *args)
rec.h("DBSIZE / KEYS / FLUSH*", 3)
for args in [("FLUSHALL",), ("DBSIZE",), ("KEYS", "*"), ("MSET", "hello", "1", "hallo", "2", "hxllo", "3", "world", "4"),
             ("DBSIZE",), ("KEYS", "h?llo"), ("KEYS", "h[ae]llo"), ("KEYS", "nomatch*"), ("KEYS",), ("FLUSHDB",), ("DBSIZE",),
             ("SET", "a", "1"), ("FLUSHALL", "ASYNC"), ("FLUSHALL", "SYNC"), ("FLUSHALL", "BOGUS"), ("FLUSHDB", "ASYNC"), ("FLUSHDB", "x", "y"),
             ("DBSIZE", "x")]:
    rec.c(c, *args)
c.close()

# ---------------------------------------------------------------- HELLO
rec.h("4. HELLO / RESP3")
c = Conn(M)
rec.c(c, "HELLO")
rec.c(c, "HELLO", "2")
rec.c(c, "HELLO", "4")
rec.c(c, "HELLO", "abc")
rec.c(c, "HELLO", "1")
rec.c(c, "HELLO", "2", "BOGUS")
rec.c(c, "HELLO", "2", "SETNAME", "myname")
rec.c(c, "HELLO", "2", "AUTH", "default")
rec.c(c, "CLIENT", "GETNAME")
c.close()
rec.h("On a HELLO 3 connection", 3)
c = Conn(M)
rec.c(c, "FLUSHALL")
rec.c(c, "HELLO", "3")
for args in [("GET", "missing"), ("SET", "k", "v"), ("GET", "k"), ("CONFIG", "GET", "maxmemory"), ("CONFIG", "GET", "port", "maxmemory"),
             ("CONFIG", "GET", "nonexistent"), ("ROLE",), ("PING",), ("PING", "hi"), ("FOO",), ("INCR", "k"), ("DBSIZE",), ("EXISTS", "k"),
             ("MGET", "k", "missing"), ("KEYS", "*"), ("TTL", "k"), ("CLIENT", "GETNAME"), ("CLIENT", "ID"),
             ("SET", "k", "v2", "GET"), ("GETDEL", "nokey"), ("INFO", "keyspace"), ("HELLO",), ("HELLO", "2"), ("GET", "missing")]:
    rec.c(c, *args)
c.close()
c = Conn(M)
rec.c(c, "HELLO", "3", "SETNAME", "r3")
rec.c(c, "CLIENT", "LIST", "ID", "999999")
rec.c(c, "CLIENT", "INFO")
rec.c(c, "WAIT", "0", "0")
c.close()
rec.note("HELLO on the replica (role field)")
c = Conn(R); rec.c(c, "HELLO", "3"); rec.c(c, "ROLE"); c.close()

# ---------------------------------------------------------------- AUTH
rec.h("5. AUTH")
c = Conn(M)
rec.c(c, "AUTH", "x")
rec.c(c, "AUTH", "default", "x")
rec.c(c, "AUTH", "a", "b", "c")
rec.c(c, "AUTH", "default", "")
rec.c(c, "AUTH", "nouser", "x")
c.close()
rec.h("Instance 7603 with requirepass", 3)
c = Conn(A)
rec.c(c, "CONFIG", "SET", "requirepass", "secret", label="setup")
rec.c(c, "PING", label="same connection that set requirepass")
c.close()
steps = [[("GET", "k")], [("PING",)], [("AUTH", "wrong")], [("AUTH", "default", "wrong")], [("AUTH", "nouser", "secret")],
         [("AUTH", "secret"), ("GET", "k"), ("PING",)], [("AUTH", "default", "secret"), ("PING",)],
         [("HELLO", "3", "AUTH", "default", "secret")], [("HELLO", "3", "AUTH", "default", "wrong")], [("HELLO", "3")], [("HELLO",)],
         [("HELLO", "2", "AUTH", "default", "secret", "SETNAME", "x")],
         [("ECHO", "x")], [("CLIENT", "ID")], [("SELECT", "0")], [("FOO",)], [("GET",)], [("QUIT",)], [("AUTH", "wrong"), ("AUTH", "wrong")]]
for seq in steps:
    rec.note("fresh connection, no auth")
    c = Conn(A)
    for args in seq:
        rec.c(c, *args, probe_close=(args[0] == "QUIT"))
    c.close()
rec.note("unauthenticated client: inline command and big multibulk / bulk length")
c = Conn(A); rec.case(c, b"PING\r\n", probe_close=True); c.close()
c = Conn(A); rec.case(c, b"*11\r\n", probe_close=True); c.close()
c = Conn(A); rec.case(c, b"*10\r\n", probe_close=True); c.close()
c = Conn(A); rec.case(c, b"*1\r\n$16385\r\n", probe_close=True); c.close()
c = Conn(A); rec.case(c, b"*1\r\n$16384\r\n", probe_close=True); c.close()
c = Conn(A); c.c("AUTH", "secret"); rec.c(c, "CONFIG", "SET", "requirepass", "", label="cleanup (after AUTH)"); c.close()

# ---------------------------------------------------------------- CLIENT
rec.h("6. CLIENT")
c = Conn(M)
myid = c.c("CLIENT", "ID")
rec.show(c, cmd("CLIENT", "ID"), myid)
for args in [("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "foo"), ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "a b"),
             ("CLIENT", "SETNAME", "a\nb"), ("CLIENT", "SETNAME", "é"), ("CLIENT", "SETNAME", "a", "b"), ("CLIENT", "SETNAME"),
             ("CLIENT", "SETNAME", ""), ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "foo"),
             ("client", "getname", "x")]:
    rec.c(c, *args)
rec.note("CLIENT LIST on master (replica link is a connected client with flags=S)")
rec.c(c, "CLIENT", "LIST", text=True)
rec.c(c, "CLIENT", "LIST", "TYPE", "normal", text=True)
rec.c(c, "CLIENT", "LIST", "TYPE", "replica", text=True)
rec.c(c, "CLIENT", "LIST", "TYPE", "master")
rec.c(c, "CLIENT", "LIST", "TYPE", "pubsub")
rec.c(c, "CLIENT", "LIST", "TYPE", "bogus")
rec.c(c, "CLIENT", "LIST", "ID", myid.split(b"\r\n")[0][1:].decode())
rec.c(c, "CLIENT", "LIST", "ID", "abc")
rec.c(c, "CLIENT", "INFO", text=True)
rec.note("CLIENT LIST on replica (master link has flags=M)")
cr = Conn(R); rec.c(cr, "CLIENT", "LIST", text=True); cr.close()
rec.note("CLIENT LIST while in MULTI / subscribed / after a large command")
c2 = Conn(M); c2.c("MULTI"); c2.c("SET", "a", "b"); c3 = Conn(M); c3.c("SUBSCRIBE", "x", "y"); c3.c("PSUBSCRIBE", "p*")
c4 = Conn(M); c4.c("SELECT", "3")
rec.c(c, "CLIENT", "LIST", text=True)
c2.close(); c3.close(); c4.close()
time.sleep(0.2)

rec.h("CLIENT KILL", 3)
victim = Conn(M); vid = victim.c("CLIENT", "ID").split(b"\r\n")[0][1:].decode()
rec.c(c, "CLIENT", "KILL", "ID", vid, label="kill other connection by id")
rec.w(f"  - victim connection closed afterwards: {victim.is_closed()}")
rec.c(c, "CLIENT", "KILL", "ID", "99999")
rec.c(c, "CLIENT", "KILL", "ID", "abc")
rec.c(c, "CLIENT", "KILL", "ID", "-1")
rec.c(c, "CLIENT", "KILL", "ID")
rec.c(c, "CLIENT", "KILL", "ADDR", "1.2.3.4:5")
rec.c(c, "CLIENT", "KILL", "LADDR", "1.2.3.4:5")
rec.c(c, "CLIENT", "KILL", "1.2.3.4:5", label="old form, not found")
rec.c(c, "CLIENT", "KILL", "TYPE", "bogus")
rec.c(c, "CLIENT", "KILL", "TYPE", "master", label="on master: no master clients")
rec.c(c, "CLIENT", "KILL", "TYPE", "pubsub", label="no pubsub clients")
rec.c(c, "CLIENT", "KILL", "USER", "nouser")
rec.c(c, "CLIENT", "KILL", "USER", "default", "SKIPME", "maybe")
rec.c(c, "CLIENT", "KILL", "FOO", "bar")
rec.c(c, "CLIENT", "KILL", "ID", vid, "SKIPME")
rec.c(c, "CLIENT", "KILL", "MAXAGE", "100000")
sub = Conn(M); sub.c("SUBSCRIBE", "ch")
rec.c(c, "CLIENT", "KILL", "TYPE", "pubsub", label="one subscriber open")
rec.w(f"  - subscriber closed afterwards: {sub.is_closed()}")
rec.note("own ID with default SKIPME yes, then SKIPME no")
rec.c(c, "CLIENT", "KILL", "ID", myid.split(b"\r\n")[0][1:].decode(), probe_close=True)
rec.c(c, "CLIENT", "KILL", "ID", myid.split(b"\r\n")[0][1:].decode(), "SKIPME", "no", probe_close=True)
c.close()
rec.note("fresh connection: CLIENT KILL TYPE normal with 2 other idle normal clients (SKIPME default yes)")
o1, o2 = Conn(M), Conn(M); o1.c("PING"); o2.c("PING")
c = Conn(M)
rec.c(c, "CLIENT", "KILL", "TYPE", "normal", probe_close=True)
rec.w(f"  - other clients closed: {o1.is_closed()}, {o2.is_closed()}")
rec.c(c, "PING")
rec.c(c, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no", probe_close=True)
c.close()
rec.note("old form CLIENT KILL <own addr>")
c = Conn(M)
laddr = "127.0.0.1:%d" % c.s.getsockname()[1]
rec.c(c, "CLIENT", "KILL", laddr, probe_close=True)
c.close()
rec.note("old form CLIENT KILL <other addr>")
o1 = Conn(M); o1.c("PING"); oaddr = "127.0.0.1:%d" % o1.s.getsockname()[1]
c = Conn(M)
rec.c(c, "CLIENT", "KILL", oaddr)
rec.w(f"  - other closed: {o1.is_closed()}")
rec.note("new form ADDR <own addr> (default SKIPME yes), then SKIPME no")
laddr = "127.0.0.1:%d" % c.s.getsockname()[1]
rec.c(c, "CLIENT", "KILL", "ADDR", laddr)
rec.c(c, "CLIENT", "KILL", "ADDR", laddr, "SKIPME", "no", probe_close=True)
c.close()
rec.note("CLIENT KILL LADDR 127.0.0.1:7601 SKIPME yes (kills all other clients connected to that local addr)")
o1 = Conn(M); o1.c("PING")
c = Conn(M)
rec.c(c, "CLIENT", "KILL", "LADDR", "127.0.0.1:7601")
rec.w(f"  - other closed: {o1.is_closed()}")
rec.note("multiple filters combined: ID + TYPE mismatch")
o1 = Conn(M); oid = o1.c("CLIENT", "ID").split(b"\r\n")[0][1:].decode()
rec.c(c, "CLIENT", "KILL", "ID", oid, "TYPE", "pubsub")
rec.c(c, "CLIENT", "KILL", "ID", oid, "TYPE", "normal")
o1.close()
rec.h("CLIENT misc", 3)
for args in [("CLIENT", "FOO"), ("CLIENT", "foo", "bar"), ("CLIENT", "HELP"), ("CLIENT", "ID", "x"), ("CLIENT", "LIST", "x"),
             ("CLIENT", "SETINFO", "lib-name", "x"), ("CLIENT", "NO-EVICT", "on"), ("CLIENT", "REPLY", "ON")]:
    rec.c(c, *args)
c.close()
rec.note("CLIENT KILL TYPE replica on master (replica reconnects afterwards); also 'slave' alias")
c = Conn(M)
rec.c(c, "CLIENT", "KILL", "TYPE", "replica")
wait_replica_connected()
rec.c(c, "CLIENT", "KILL", "TYPE", "slave")
wait_replica_connected()
c.close()
rec.note("CLIENT KILL TYPE master on the replica (drops link to master, which is then re-established)")
c = Conn(R)
rec.c(c, "CLIENT", "KILL", "TYPE", "master")
c.close()
wait_replica_connected()
time.sleep(1)

import sections2
sections2.run(rec, M, R, A, start_master, wait_replica_connected)
