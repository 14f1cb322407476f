import time, subprocess
from lib import Conn, cmd

def run(rec, M, R, A, start_master, wait_replica_connected):
    # ------------------------------------------------------------ INFO
    rec.h("7. INFO (full texts)")
    c = Conn(M)
    c.c("FLUSHALL")
    rec.note("master, empty keyspace")
    rec.c(c, "INFO", "keyspace", text=True)
    rec.c(c, "SET", "k", "v"); rec.c(c, "SET", "t", "v", "EX", "100"); rec.c(c, "SELECT", "2"); rec.c(c, "SET", "x", "y"); rec.c(c, "SELECT", "0")
    rec.c(c, "INFO", "keyspace", text=True)
    rec.c(c, "INFO", "server", text=True)
    rec.c(c, "INFO", "clients", text=True)
    rec.note("master with replica attached")
    rec.c(c, "INFO", "replication", text=True)
    rec.c(c, "INFO", "stats", text=True)
    rec.c(c, "INFO", "commandstats", text=True)
    rec.c(c, "INFO", "errorstats", text=True)
    rec.c(c, "INFO", text=True, label="INFO default")
    rec.c(c, "INFO", "bogus")
    rec.c(c, "INFO", "SERVER", label="upper case section")
    rec.c(c, "INFO", "server", "clients", text=True, label="multiple sections")
    rec.c(c, "INFO", "default", label="explicit default (length only compared)")
    rec.c(c, "INFO", "memory", text=True)
    rec.c(c, "INFO", "persistence", text=True)
    rec.c(c, "INFO", "cpu", text=True)
    rec.c(c, "INFO", "modules", text=True)
    rec.c(c, "INFO", "cluster", text=True)
    rec.c(c, "INFO", "everything", text=True)
    c.close()
    rec.note("replica")
    c = Conn(R)
    rec.c(c, "INFO", "replication", text=True)
    rec.c(c, "INFO", "keyspace", text=True)
    rec.c(c, "INFO", "server", text=True)
    c.close()
    rec.note("INFO in RESP3 (verbatim string)")
    c = Conn(M); c.c("HELLO", "3")
    rec.c(c, "INFO", "keyspace")
    rec.c(c, "INFO", "bogus")
    rec.c(c, "CLIENT", "LIST", "TYPE", "pubsub")
    c.close()

    # ------------------------------------------------------------ ROLE
    rec.h("8. ROLE")
    c = Conn(M); c.c("SET", "k", "v"); c.c("WAIT", "1", "500"); time.sleep(1.2)
    rec.c(c, "ROLE", label="master with replica")
    rec.c(c, "ROLE", "x")
    c.close()
    c = Conn(R); rec.c(c, "ROLE", label="replica"); c.close()
    c = Conn(A); rec.c(c, "ROLE", label="master with no replicas (7603)"); c.close()

    # ------------------------------------------------------------ REPLICAOF
    rec.h("9. REPLICAOF / SLAVEOF / READONLY")
    c = Conn(R)
    for args in [("SET", "k", "v"), ("DEL", "k"), ("INCR", "n"), ("FLUSHALL",), ("GET", "k"), ("EXPIRE", "k", "10"),
                 ("REPLICAOF",), ("REPLICAOF", "127.0.0.1"), ("REPLICAOF", "a", "b", "c"), ("REPLICAOF", "127.0.0.1", "abc"),
                 ("REPLICAOF", "127.0.0.1", "-1"), ("REPLICAOF", "127.0.0.1", "99999"), ("REPLICAOF", "NO", "TWO"),
                 ("REPLICAOF", "127.0.0.1", "7601"), ("SLAVEOF", "127.0.0.1", "7601"), ("REPLICAOF", "localhost", "7601"),
                 ("ROLE",), ("REPLICAOF", "127.0.0.1", "7601"), ("ROLE",)]:
        rec.c(c, *args)
    wait_replica_connected()
    rec.c(c, "ROLE", label="after resync")
    rec.c(c, "REPLICAOF", "NO", "ONE")
    rec.c(c, "ROLE")
    rec.c(c, "REPLICAOF", "no", "one", label="already master")
    rec.c(c, "SET", "onreplica", "1")
    rec.c(c, "INFO", "replication", text=True, label="replica promoted")
    rec.c(c, "REPLICAOF", "127.0.0.1", "7601")
    rec.c(c, "ROLE", label="immediately after REPLICAOF")
    rec.c(c, "INFO", "replication", text=True, label="immediately after REPLICAOF (link down / connecting)")
    wait_replica_connected()
    rec.c(c, "SLAVEOF", "NO", "ONE")
    rec.c(c, "SLAVEOF", "127.0.0.1", "7601")
    wait_replica_connected()
    rec.c(c, "SLAVEOF", "127.0.0.1", "7601", label="already connected")
    rec.c(c, "READONLY", label="cluster READONLY command on non-cluster")
    rec.c(c, "GET", "onreplica", label="key was wiped by resync")
    c.close()
    c = Conn(M)
    rec.c(c, "REPLICAOF", "NO", "ONE", label="on master")
    rec.c(c, "REPLICAOF", "127.0.0.1", "7601", label="REPLICAOF self? skipped") if False else None
    c.close()
    rec.note("replica-read-only no on replica: writes allowed")
    c = Conn(R)
    rec.c(c, "CONFIG", "SET", "replica-read-only", "no")
    rec.c(c, "SET", "localkey", "1")
    rec.c(c, "CONFIG", "SET", "replica-read-only", "yes")
    rec.c(c, "SET", "localkey", "1")
    c.close()

    # ------------------------------------------------------------ MULTI
    rec.h("10. MULTI / EXEC / DISCARD / WATCH")
    c = Conn(M)
    for args in [("MULTI",), ("SET", "k", "v"), ("GET", "k"), ("INCR", "k"), ("PING",), ("EXEC",)]:
        rec.c(c, *args)
    rec.note("unknown command inside MULTI")
    for args in [("MULTI",), ("SET", "k", "v"), ("FOO", "bar"), ("GET", "k"), ("EXEC",), ("EXEC",)]:
        rec.c(c, *args)
    rec.note("wrong arity inside MULTI")
    for args in [("MULTI",), ("GET",), ("EXEC",)]:
        rec.c(c, *args)
    rec.note("MULTI inside MULTI (does it abort?)")
    for args in [("MULTI",), ("MULTI",), ("SET", "k", "v2"), ("EXEC",)]:
        rec.c(c, *args)
    rec.note("EXEC / DISCARD without MULTI; MULTI then DISCARD")
    for args in [("EXEC",), ("DISCARD",), ("MULTI",), ("SET", "k", "v3"), ("DISCARD",), ("GET", "k"), ("MULTI", "x")]:
        rec.c(c, *args)
    rec.note("WATCH inside MULTI; WATCH arity; UNWATCH")
    for args in [("MULTI",), ("WATCH", "k"), ("EXEC",), ("WATCH",), ("WATCH", "k"), ("UNWATCH",), ("MULTI",), ("EXEC",)]:
        rec.c(c, *args)
    rec.note("WATCH k, another connection modifies k, MULTI/EXEC -> null")
    o = Conn(M)
    rec.c(c, "WATCH", "k"); o.c("SET", "k", "changed")
    for args in [("MULTI",), ("SET", "k", "mine"), ("EXEC",), ("GET", "k")]:
        rec.c(c, *args)
    rec.note("same in RESP3")
    rec.c(c, "HELLO", "3")
    rec.c(c, "WATCH", "k"); o.c("SET", "k", "changed2")
    for args in [("MULTI",), ("SET", "k", "mine"), ("EXEC",), ("MULTI",), ("GET", "missing"), ("GET", "k"), ("EXEC",), ("HELLO", "2")]:
        rec.c(c, *args)
    o.close()
    rec.note("SUBSCRIBE / WAIT / MONITOR queued inside MULTI (SUBSCRIBE gets executed by EXEC and leaves the connection subscribed)")
    for args in [("MULTI",), ("SUBSCRIBE", "x"), ("WAIT", "0", "0"), ("MONITOR",), ("EXEC",)]:
        rec.c(c, *args)
    rec.case(c, cmd("MULTI") + cmd("SET", "a", "1") + cmd("INCR", "a") + cmd("EXEC"), label="pipelined MULTI on that (now subscribed) connection")
    c.close()
    c = Conn(M)
    rec.case(c, cmd("MULTI") + cmd("SET", "a", "1") + cmd("INCR", "a") + cmd("EXEC"), label="pipelined MULTI on a fresh connection")
    c.close()
    rec.note("EXEC runtime error inside transaction + QUIT inside MULTI")
    c = Conn(M)
    for args in [("SET", "s", "abc"), ("MULTI",), ("INCR", "s"), ("SET", "s", "x"), ("EXEC",), ("MULTI",), ("QUIT",)]:
        rec.c(c, *args, probe_close=(args[0] == "QUIT"))
    c.close()

    # ------------------------------------------------------------ WAIT
    rec.h("11. WAIT")
    c = Conn(M)
    rec.c(c, "SET", "k", "v")
    t0 = time.time(); rec.c(c, "WAIT", "1", "100"); rec.w(f"  - took {time.time()-t0:.2f}s (incl 0.3s quiet)")
    rec.c(c, "SET", "k", "v")
    t0 = time.time(); rec.c(c, "WAIT", "2", "500", quiet=1.0); rec.w(f"  - took {time.time()-t0:.2f}s (incl 1.0s quiet)")
    for args in [("WAIT", "0", "0"), ("WAIT", "1", "0"), ("WAIT", "abc", "0"), ("WAIT", "1", "abc"), ("WAIT", "1", "-1"), ("WAIT", "-1", "0"), ("WAIT", "1")]:
        rec.c(c, *args)
    c.close()
    c = Conn(M)
    rec.c(c, "WAIT", "0", "0", label="fresh conn, no writes")
    rec.c(c, "WAIT", "5", "0", label="fresh conn, no writes, numreplicas>connected, timeout 0")
    c.close()
    c = Conn(R)
    rec.c(c, "WAIT", "1", "100", label="on replica")
    rec.c(c, "WAIT", "0", "0", label="on replica")
    c.close()
    c = Conn(A)
    rec.c(c, "SET", "k", "v")
    t0 = time.time(); rec.c(c, "WAIT", "1", "200", quiet=0.6); rec.w(f"  - (7603, no replicas) took {time.time()-t0:.2f}s (incl 0.6s quiet)")
    c.close()

    # ------------------------------------------------------------ CONFIG
    rec.h("12. CONFIG")
    c = Conn(M)
    for p in ["port", "requirepass", "replicaof", "slaveof", "replica-priority", "slave-priority", "replica-read-only", "slave-read-only",
              "replica-serve-stale-data", "min-replicas-to-write", "min-slaves-to-write", "min-replicas-max-lag", "repl-backlog-size",
              "repl*", "*priority*", "unknown-param", "PORT", "maxmemory", "bind", "save", "appendonly", "databases", "dir", "repl-diskless-sync-delay", "masterauth"]:
        rec.c(c, "CONFIG", "GET", p)
    rec.c(c, "CONFIG", "GET", "port", "databases", "port")
    rec.c(c, "CONFIG", "GET", "port", "nosuch")
    rec.c(c, "CONFIG", "GET")
    rec.h("CONFIG SET", 3)
    sets = [("port", "7601"), ("port", "abc"), ("port", "70000"), ("port", "-1"),
            ("replicaof", "127.0.0.1 7602"), ("slaveof", "no one"),
            ("replica-priority", "50"), ("replica-priority", "abc"), ("replica-priority", "-1"), ("slave-priority", "60"),
            ("replica-read-only", "maybe"), ("replica-read-only", "yes"), ("replica-read-only", "YES"), ("replica-read-only", "1"),
            ("replica-serve-stale-data", "maybe"), ("replica-serve-stale-data", "no"), ("replica-serve-stale-data", "yes"),
            ("min-replicas-to-write", "abc"), ("min-replicas-to-write", "-1"), ("min-replicas-to-write", "0"),
            ("min-replicas-max-lag", "abc"), ("min-replicas-max-lag", "10"),
            ("repl-backlog-size", "abc"), ("repl-backlog-size", "0"), ("repl-backlog-size", "-1"), ("repl-backlog-size", "2mb"),
            ("repl-backlog-size", "2MB"), ("repl-backlog-size", "1048576"), ("repl-backlog-size", "1g"),
            ("unknown-param", "1"), ("maxmemory", "100mb"), ("maxmemory", "0"), ("databases", "32"), ("bind", "127.0.0.1"), ("save", "")]
    for k, v in sets:
        rec.c(c, "CONFIG", "SET", k, v)
        if k in ("replica-priority", "slave-priority", "repl-backlog-size", "maxmemory") and not v.isalpha():
            rec.c(c, "CONFIG", "GET", k)
    rec.c(c, "CONFIG", "GET", "replica-priority"); rec.c(c, "CONFIG", "GET", "slave-priority")
    rec.c(c, "CONFIG", "SET", "replica-priority", "100")
    rec.c(c, "CONFIG", "SET", "repl-backlog-size", "1mb")
    rec.c(c, "CONFIG", "SET", "port")
    rec.c(c, "CONFIG", "SET", "maxmemory", "1", "port")
    rec.c(c, "CONFIG", "SET", "maxmemory", "0", "replica-priority", "100")
    rec.c(c, "CONFIG", "SET", "maxmemory", "0", "maxmemory", "0")
    rec.c(c, "CONFIG", "SET", "maxmemory", "0", "replica-priority", "abc")
    rec.c(c, "CONFIG", "SET")
    rec.note("min-replicas-to-write enforcement (1 replica connected)")
    for args in [("CONFIG", "SET", "min-replicas-to-write", "2"), ("SET", "k", "v"), ("GET", "k"), ("DEL", "k"), ("MULTI",), ("SET", "k", "v"), ("EXEC",),
                 ("CONFIG", "SET", "min-replicas-to-write", "1"), ("SET", "k", "v"), ("CONFIG", "SET", "min-replicas-to-write", "0")]:
        rec.c(c, *args)
    rec.h("CONFIG REWRITE / RESETSTAT / misc", 3)
    for args in [("CONFIG", "REWRITE"), ("CONFIG", "RESETSTAT"), ("CONFIG", "BOGUS"), ("CONFIG", "bogus", "x"), ("CONFIG", "HELP"), ("CONFIG", "GET", "a", "b")]:
        rec.c(c, *args)
    c.close()
    rec.note("CONFIG SET requirepass / masterauth on 7603")
    c = Conn(A)
    for args in [("CONFIG", "SET", "requirepass", "secret"), ("CONFIG", "GET", "requirepass"), ("PING",), ("CONFIG", "SET", "requirepass", ""),
                 ("CONFIG", "GET", "requirepass"), ("CONFIG", "SET", "masterauth", "x"), ("CONFIG", "GET", "masterauth"), ("CONFIG", "SET", "masterauth", "")]:
        rec.c(c, *args)
    c.close()

    # ------------------------------------------------------------ PUBSUB
    rec.h("13. Pub/Sub")
    s = Conn(M); p = Conn(M)
    rec.c(p, "PUBLISH", "nobody", "hi", label="no subscribers")
    rec.c(s, "SUBSCRIBE", "a", "b")
    rec.c(p, "PUBLISH", "a", "hi")
    rec.show(s, b"", s.read(), label="pushed to subscriber (read only)")
    rec.c(s, "PSUBSCRIBE", "h*")
    rec.c(p, "PUBLISH", "hello", "world")
    rec.show(s, b"", s.read(), label="pushed to subscriber")
    rec.c(s, "SUBSCRIBE", "h1")
    rec.c(p, "PUBLISH", "h1", "both")
    rec.show(s, b"", s.read(), label="pushed: channel + pattern match")
    rec.c(p, "PUBSUB", "CHANNELS"); rec.c(p, "PUBSUB", "NUMSUB", "a", "zz"); rec.c(p, "PUBSUB", "NUMPAT")
    for args in [("GET", "k"), ("SET", "k", "v"), ("PING",), ("PING", "x"), ("ECHO", "x"), ("SUBSCRIBE", "a"), ("FOO",), ("MULTI",), ("HELLO", "2"),
                 ("UNSUBSCRIBE", "a"), ("UNSUBSCRIBE",), ("PUNSUBSCRIBE", "zz"), ("PUNSUBSCRIBE",), ("PING",), ("UNSUBSCRIBE",), ("PUNSUBSCRIBE",),
                 ("UNSUBSCRIBE", "x")]:
        rec.c(s, *args)
    rec.c(s, "SUBSCRIBE")
    rec.c(s, "SUBSCRIBE", "q")
    rec.c(s, "RESET")
    rec.c(s, "SUBSCRIBE", "q")
    rec.c(s, "QUIT", probe_close=True)
    s.close()
    rec.note("RESP3 subscriber")
    s = Conn(M); s.c("HELLO", "3")
    for args in [("SUBSCRIBE", "a"), ("GET", "k"), ("PING",)]:
        rec.c(s, *args)
    rec.c(p, "PUBLISH", "a", "hi3")
    rec.show(s, b"", s.read(), label="pushed to RESP3 subscriber")
    rec.c(s, "PSUBSCRIBE", "x*"); rec.c(p, "PUBLISH", "xy", "z"); rec.show(s, b"", s.read(), label="pushed pmessage RESP3")
    rec.c(s, "UNSUBSCRIBE"); rec.c(s, "PUNSUBSCRIBE"); rec.c(s, "UNSUBSCRIBE")
    s.close(); p.close()

    # ------------------------------------------------------------ MONITOR
    rec.h("14. MONITOR")
    m = Conn(M); o = Conn(M)
    rec.c(m, "MONITOR")
    o.c("SET", "k", "v"); o.c("GET", "k"); o.c("SET", "sp ace", 'q"uo\te\n\x01\xff'); o.c("SELECT", "5"); o.c("PING"); o.c("SELECT", "0")
    o.c("CONFIG", "GET", "port"); o.c("AUTH", "x"); o.c("FOO")
    rec.w(f"- other connection (local port {o.s.getsockname()[1]}) ran: SET k v; GET k; SET \"sp ace\" 'q\"uo\\te\\n\\x01\\xff'; SELECT 5; PING; SELECT 0; CONFIG GET port; AUTH x; FOO")
    rec.show(m, b"", m.read(), label="monitor output", text=True)
    rec.c(m, "GET", "k", label="command sent on the monitor connection itself")
    rec.c(m, "PING", label="PING on monitor conn")
    rec.c(m, "MONITOR", label="MONITOR again")
    rec.c(m, "QUIT", label="QUIT on monitor conn", probe_close=True)
    m.close(); o.close()
    rec.note("MONITOR on replica while master propagates SET")
    m = Conn(R); rec.c(m, "MONITOR")
    o = Conn(M); o.c("SET", "rk", "rv"); o.c("EXPIRE", "rk", "100"); o.close(); time.sleep(0.3)
    rec.show(m, b"", m.read(), label="replica monitor output", text=True)
    m.close()
    m = Conn(M); m.c("HELLO", "3"); rec.c(m, "MONITOR", label="RESP3 MONITOR")
    o = Conn(M); o.c("GET", "k"); o.close()
    rec.show(m, b"", m.read(), label="RESP3 monitor output")
    m.close()

    # ------------------------------------------------------------ protocol errors
    rec.h("15. Protocol errors (fresh connection each)")
    cases = [
        (b"*abc\r\n", None), (b"*2\r\n$3\r\nGET\r\n:1\r\n", None), (b"*1\r\n$-5\r\n", None), (b"*1\r\n$-1\r\n", None), (b"*1\r\n$abc\r\n", None),
        (b"*1\r\n$4294967296\r\n", None), (b"*1\r\n$536870912\r\n", "512MB exactly (proto-max-bulk-len)"), (b"*1\r\n$536870913\r\n", None),
        (b"*2147483647\r\n", "check: waits?"), (b"*2147483648\r\n", None), (b"*1048577\r\n", None), (b"*-1\r\n", None), (b"*-2\r\n", None),
        (b"*-1\r\nPING\r\n", None), (b"*0\r\n", None), (b"*0\r\n*1\r\n$4\r\nPING\r\n", None), (b"*\r\n", None), (b"*\r\nPING\r\n", None), (b"*1\r\n$\r\n", None),
        (b"*1\r\nPING\r\n", None), (b"$5\r\nhello\r\n", None), (b":1\r\n", None), (b"+PING\r\n", None),
        (b"PING\r\n", None), (b"PING\n", None), (b"  ping   \r\n", None), (b"PING\r\nPING\r\n", None), (b"\r\n", None), (b"\n", None), (b"\r\n\r\nPING\r\n", None),
        (b"\r\r\n", None), (b"set a \"b c\"\r\nget a\r\n", None), (b"set a \"b\r\n", None), (b"echo 'a b\r\n", None), (b"echo \"a\"b\r\n", None),
        (b"echo \"\\x41\\n\"\r\n", None), (b"echo 'it\\'s'\r\n", None), (b"echo \"\"\r\n", None), (b"echo a\tb\r\n", None),
        (b"*1\r\n$3\r\nGETX\r\n", None), (b"*1\r\n$4\r\nPING\r\n\r\n", None), (b"*1\r\n$4\r\nPINGXX\r\n", None),
        (b"*1\r\n$4\r\nPING", "incomplete, waits?"), (b"*1\r\n$0\r\n\r\n", None), (b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", None),
        (b"*1 \r\n$4\r\nPING\r\n", None), (b"*01\r\n$04\r\nPING\r\n", None), (b"*+1\r\n$4\r\nPING\r\n", None),
        (b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$-1\r\n", None),
    ]
    for raw, note in cases:
        c = Conn(M)
        rec.case(c, raw, label=note, probe_close=True, quiet=0.5)
        if not c.closed:
            rec.case(c, b"*1\r\n$4\r\nPING\r\n", label="follow-up PING on same connection", probe_close=True, quiet=0.5)
        c.close()
    rec.note("70000-byte inline line without newline")
    c = Conn(M); rec.case(c, b"a" * 70000, probe_close=True, quiet=0.5); c.close()
    rec.note("65536 / 65535 byte inline line without newline")
    c = Conn(M); rec.case(c, b"a" * 65536, probe_close=True, quiet=0.5); c.close()
    c = Conn(M); rec.case(c, b"a" * 65535, probe_close=True, quiet=0.5); c.close()
    rec.note("70000-byte inline line WITH newline (arrives in pieces)")
    c = Conn(M); rec.case(c, b"ECHO " + b"a" * 70000 + b"\r\n", probe_close=True, quiet=0.5); c.close()
    rec.note("multibulk count / bulk length line > 64k without CRLF")
    c = Conn(M); rec.case(c, b"*" + b"1" * 70000, probe_close=True, quiet=0.5); c.close()
    c = Conn(M); rec.case(c, b"*1\r\n$" + b"1" * 70000, probe_close=True, quiet=0.5); c.close()
    rec.note("*2147483647 then a bulk: still waiting?")
    c = Conn(M)
    rec.case(c, b"*2147483647\r\n", quiet=1.0, probe_close=True)
    rec.case(c, b"$4\r\nPING\r\n", quiet=1.0, probe_close=True)
    c.close()
    rec.note("unauthenticated multibulk limits (7603 with requirepass)")
    ca = Conn(A); ca.c("CONFIG", "SET", "requirepass", "secret"); 
    for raw in [b"*2147483647\r\n", b"*11\r\n", b"*10\r\n", b"*1\r\n$16384\r\n", b"*1\r\n$16385\r\n"]:
        c = Conn(A); rec.case(c, raw, probe_close=True, quiet=0.5); c.close()
    ca.c("CONFIG", "SET", "requirepass", ""); ca.close()

    # ------------------------------------------------------------ PSYNC
    rec.h("16. Replication handshake (PSYNC)")
    c = Conn(M)
    for args in [("REPLCONF", "foo", "bar"), ("REPLCONF", "listening-port"), ("REPLCONF", "listening-port", "abc"), ("REPLCONF",),
                 ("REPLCONF", "ACK", "0"), ("REPLCONF", "GETACK", "*")]:
        rec.c(c, *args)
    c.close()
    c = Conn(M)
    for args in [("PING",), ("REPLCONF", "listening-port", "7777"), ("REPLCONF", "capa", "eof", "capa", "psync2")]:
        rec.c(c, *args)
    t0 = time.time()
    first = c.send(cmd("PSYNC", "?", "-1"), quiet=0.3)
    rec.show(c, cmd("PSYNC", "?", "-1"), first, label="immediate reply (first 0.3s)")
    mc = Conn(M)
    rec.c(mc, "INFO", "replication", text=True, label="on another connection to the master while that fake replica waits for the diskless sync")
    rec.c(mc, "ROLE", label="same moment")
    rec.c(mc, "CLIENT", "LIST", "TYPE", "replica", text=True, label="same moment")
    mc.close()
    rest = b""
    while len(rest) < 200 and time.time() - t0 < 12:
        chunk = c.read(quiet=1.5, maxtime=2)
        if chunk:
            rec.w(f"  - t=+{time.time()-t0:.1f}s received `{chunk[:200]!r}`")
        rest += chunk
    rec.show(c, b"", rest[:200], label=f"all bytes after the immediate reply, first 200 (repl-diskless-sync-delay=5)")
    c.close()
    time.sleep(0.5)
    rec.note("without capa eof (disk-based transfer)")
    c = Conn(M)
    for args in [("PING",), ("REPLCONF", "listening-port", "7778")]:
        rec.c(c, *args)
    t0 = time.time()
    first = c.send(cmd("PSYNC", "?", "-1"), quiet=0.3)
    rec.show(c, cmd("PSYNC", "?", "-1"), first, label="immediate reply")
    rest = c.read(quiet=7.0, maxtime=12, maxbytes=200)
    rec.show(c, b"", rest[:200], label=f"following bytes, first 200 (arrived {time.time()-t0:.1f}s)")
    c.close()
    time.sleep(0.5)
    rec.note("PSYNC with current master replid and offset (partial resync)")
    c = Conn(M)
    info = c.c("INFO", "replication").decode()
    replid = [l.split(":")[1] for l in info.split("\r\n") if l.startswith("master_replid:")][0]
    off = int([l.split(":")[1] for l in info.split("\r\n") if l.startswith("master_repl_offset:")][0])
    c.close()
    c = Conn(M)
    rec.c(c, "REPLCONF", "capa", "eof", "capa", "psync2")
    rec.case(c, cmd("PSYNC", replid, str(off + 1)), label=f"PSYNC <replid> {off+1}", quiet=1.0)
    c.close()
    c = Conn(M)
    rec.case(c, cmd("PSYNC", replid, str(off + 1)), label=f"PSYNC <replid> {off+1} WITHOUT capa psync2", quiet=1.0)
    c.close()
    c = Conn(M)
    rec.c(c, "PSYNC", "?", "abc", quiet=0.5, label="bad offset")
    c.close()
    c = Conn(R)
    rec.c(c, "PSYNC", "?", "-1", quiet=0.5, label="PSYNC to a replica (chained) - first bytes", maxbytes=200)
    c.close()
    c = Conn(M)
    rec.c(c, "MULTI"); rec.c(c, "PSYNC", "?", "-1")
    c.close()
    time.sleep(0.5)

    # ------------------------------------------------------------ MASTERDOWN
    rec.h("17. Replica with master down (replica-serve-stale-data no)")
    c = Conn(R)
    rec.c(c, "CONFIG", "SET", "replica-serve-stale-data", "no")
    subprocess.run(["redis-cli", "-p", "7601", "shutdown", "nosave"])
    time.sleep(1.5)
    for args in [("GET", "k"), ("SET", "k", "v"), ("PING",), ("ECHO", "x"), ("DBSIZE",), ("ROLE",), ("CONFIG", "GET", "port"), ("CLIENT", "ID"),
                 ("SELECT", "1"), ("MULTI",), ("EXEC",), ("SUBSCRIBE", "x"), ("UNSUBSCRIBE",), ("FOO",), ("INFO", "replication"), ("INFO",)]:
        rec.c(c, *args, text=(args[0] == "INFO"))
    rec.note("replica-serve-stale-data yes with master down")
    rec.c(c, "CONFIG", "SET", "replica-serve-stale-data", "yes")
    for args in [("GET", "k"), ("PING",), ("SET", "k", "v")]:
        rec.c(c, *args)
    c.close()
    start_master()
    ok = wait_replica_connected(30)
    rec.note(f"master restarted; replica reconnected: {ok}")
