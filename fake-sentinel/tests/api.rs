//! The Sentinel API against what real redis-sentinel 7.0.15 answered (conformance/sentinel-7.0.15-transcript.md),
//! SDOWN of replicas and Sentinels, and bad input: garbage from a data node, garbage to a Sentinel.

mod common;

use std::time::Duration;

use common::*;
use redsim::{Deployment, Fault};
use redsim_fake_redis::Reply;
use redsim_fake_sentinel::SentinelEvent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SEC: Duration = Duration::from_secs(1);

fn keys(map: &Reply) -> Vec<String> {
    map.as_array()
        .unwrap()
        .chunks(2)
        .map(|kv| kv[0].as_text().unwrap())
        .collect()
}

fn request(args: &str) -> Vec<u8> {
    let parts: Vec<&str> = args.split(' ').collect();
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for p in parts {
        out.extend_from_slice(format!("${}\r\n{p}\r\n", p.len()).as_bytes());
    }
    out
}

#[test]
fn sentinel_replies_match_redis() {
    let topo = Topology::default();
    let mut sim = redsim::sim(21);
    let mut cluster = Deployment::new(topo.clone()).seed(21).install(&mut sim);
    cluster.client(&mut sim, "test", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        let mut s = connect("sentinel-1", SENTINEL_PORT).await;
        let master = s.call(&["SENTINEL", "MASTER", "mymaster"]).await.unwrap();
        let common = [
            "name",
            "ip",
            "port",
            "runid",
            "flags",
            "link-pending-commands",
            "link-refcount",
            "last-ping-sent",
            "last-ok-ping-reply",
            "last-ping-reply",
            "down-after-milliseconds",
        ];
        let data = ["info-refresh", "role-reported", "role-reported-time"];
        let mut want: Vec<&str> = common.iter().chain(&data).copied().collect();
        want.extend([
            "config-epoch",
            "num-slaves",
            "num-other-sentinels",
            "quorum",
            "failover-timeout",
            "parallel-syncs",
        ]);
        assert_eq!(keys(&master), want);
        assert!(
            master.as_array().unwrap().iter().all(|v| matches!(v, Reply::Bulk(_))),
            "every value is a bulk"
        );
        let replicas = s.call(&["SENTINEL", "REPLICAS", "mymaster"]).await.unwrap();
        let mut want: Vec<&str> = common.iter().chain(&data).copied().collect();
        want.extend([
            "master-link-down-time",
            "master-link-status",
            "master-host",
            "master-port",
            "slave-priority",
            "slave-repl-offset",
            "replica-announced",
        ]);
        assert_eq!(keys(&replicas.as_array().unwrap()[0]), want);
        assert_eq!(
            s.call(&["SENTINEL", "SLAVES", "mymaster"])
                .await
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let sentinels = s.call(&["SENTINEL", "SENTINELS", "mymaster"]).await.unwrap();
        let mut want: Vec<&str> = common.to_vec();
        want.extend(["last-hello-message", "voted-leader", "voted-leader-epoch"]);
        assert_eq!(keys(&sentinels.as_array().unwrap()[0]), want);
        let cases: &[(&str, &str)] = &[
            ("SENTINEL GET-MASTER-ADDR-BY-NAME nosuch", "*-1\r\n"),
            ("SENTINEL MASTER nosuch", "-ERR No such master with that name\r\n"),
            ("SENTINEL MASTER MYMASTER", "-ERR No such master with that name\r\n"),
            ("SENTINEL REPLICAS nosuch", "-ERR No such master with that name\r\n"),
            ("SENTINEL SENTINELS nosuch", "-ERR No such master with that name\r\n"),
            (
                "SENTINEL CKQUORUM mymaster",
                "+OK 3 usable Sentinels. Quorum and failover authorization can be reached\r\n",
            ),
            ("SENTINEL CKQUORUM nosuch", "-ERR No such master with that name\r\n"),
            (
                "SENTINEL IS-MASTER-DOWN-BY-ADDR 127.0.0.1 abc 0 *",
                "-ERR value is not an integer or out of range\r\n",
            ),
            (
                "SENTINEL IS-MASTER-DOWN-BY-ADDR 127.0.0.1 7799 0 *",
                "*3\r\n:0\r\n$1\r\n*\r\n:0\r\n",
            ),
            (
                "SENTINEL IS-MASTER-DOWN-BY-ADDR 127.0.0.1 7701 abc *",
                "-ERR value is not an integer or out of range\r\n",
            ),
            (
                "SENTINEL IS-MASTER-DOWN-BY-ADDR 127.0.0.1 7701",
                "-ERR wrong number of arguments for 'sentinel|is-master-down-by-addr' command\r\n",
            ),
            ("SENTINEL FOO", "-ERR unknown subcommand 'FOO'. Try SENTINEL HELP.\r\n"),
            ("SENTINEL", "-ERR wrong number of arguments for 'sentinel' command\r\n"),
            (
                "SENTINEL MASTER",
                "-ERR wrong number of arguments for 'sentinel|master' command\r\n",
            ),
            (
                "SENTINEL SET mymaster down-after-milliseconds abc",
                "-ERR Invalid argument 'abc' for SENTINEL SET 'down-after-milliseconds'\r\n",
            ),
            (
                "SENTINEL SET mymaster quorum 0",
                "-ERR Invalid argument '0' for SENTINEL SET 'quorum'\r\n",
            ),
            (
                "SENTINEL SET mymaster bogus 1",
                "-ERR Unknown option or number of arguments for SENTINEL SET 'bogus'\r\n",
            ),
            (
                "SENTINEL SET mymaster quorum",
                "-ERR wrong number of arguments for 'sentinel|set' command\r\n",
            ),
            ("SENTINEL SET nosuch quorum 2", "-ERR No such master with that name\r\n"),
            ("SENTINEL SET mymaster quorum 2", "+OK\r\n"),
            (
                "SENTINEL MONITOR mymaster 127.0.0.1 7701 2",
                "-ERR Duplicate master name.\r\n",
            ),
            ("SENTINEL MONITOR x 127.0.0.1 abc 2", "-ERR Invalid port\r\n"),
            (
                "SENTINEL MONITOR x 127.0.0.1 7799 0",
                "-ERR Quorum must be 1 or greater.\r\n",
            ),
            ("SENTINEL MONITOR x 127.0.0.1 7799 abc", "-ERR Invalid quorum\r\n"),
            ("SENTINEL MONITOR x 127.0.0.1 70000 2", "-ERR Invalid port number.\r\n"),
            (
                "SENTINEL MONITOR x 127.0.0.1 7799",
                "-ERR wrong number of arguments for 'sentinel|monitor' command\r\n",
            ),
            ("SENTINEL MONITOR othermaster 127.0.0.1 7799 2", "+OK\r\n"),
            ("SENTINEL REMOVE othermaster", "+OK\r\n"),
            ("SENTINEL REMOVE nosuch", "-ERR No such master with that name\r\n"),
            ("SENTINEL RESET nosuch*", ":0\r\n"),
            ("SENTINEL FAILOVER nosuch", "-ERR No such master with that name\r\n"),
            ("SENTINEL PENDING-SCRIPTS", "*0\r\n"),
            ("SENTINEL FLUSHCONFIG", "+OK\r\n"),
            (
                "GET k",
                "-ERR unknown command 'GET', with args beginning with: 'k' \r\n",
            ),
            ("QUIT", "-ERR unknown command 'QUIT', with args beginning with: \r\n"),
            (
                "PUBLISH foo bar",
                "-ERR Only HELLO messages are accepted by Sentinel instances.\r\n",
            ),
            ("PUBLISH __sentinel__:hello x", ":1\r\n"),
            ("PING", "+PONG\r\n"),
            ("HELLO 4", "-NOPROTO unsupported protocol version\r\n"),
            ("INFO bogus", "$0\r\n\r\n"),
            ("ROLE", "*2\r\n$8\r\nsentinel\r\n*1\r\n$8\r\nmymaster\r\n"),
        ];
        for (req, want) in cases {
            let got = s.call_raw(&request(req)).await.unwrap();
            assert_eq!(String::from_utf8_lossy(&got), *want, "{req}");
        }
        let myid = s.call(&["SENTINEL", "MYID"]).await.unwrap().as_text().unwrap();
        assert!(myid.len() == 40 && myid.chars().all(|c| c.is_ascii_hexdigit()));
        let info = s.call(&["INFO", "sentinel"]).await.unwrap().as_text().unwrap();
        let ip = turmoil::lookup("redis-1");
        assert!(
            info.contains(&format!(
                "master0:name=mymaster,status=ok,address={ip}:6379,slaves=2,sentinels=3\r\n"
            )),
            "{info}"
        );
        // A SUBSCRIBE-d client receives events; the event payloads use Redis's %@ format.
        let mut sub = connect("sentinel-1", SENTINEL_PORT).await;
        sub.call(&["SUBSCRIBE", "+set"]).await.unwrap();
        s.call(&["SENTINEL", "SET", "mymaster", "down-after-milliseconds", "5000"])
            .await
            .unwrap();
        let msg = sub.read().await.unwrap();
        assert_eq!(
            msg.as_array().unwrap()[2],
            Reply::text(format!("master mymaster {ip} 6379 down-after-milliseconds 5000"))
        );
        // SENTINEL RESET forgets replicas and Sentinels, says so, and discovery starts again.
        let mut psub = connect("sentinel-1", SENTINEL_PORT).await;
        psub.call(&["PSUBSCRIBE", "+reset*"]).await.unwrap();
        assert_eq!(s.call(&["SENTINEL", "RESET", "my*"]).await.unwrap(), Reply::Int(1));
        let msg = psub.read().await.unwrap();
        let items = msg.as_array().unwrap();
        assert_eq!(items[0], Reply::text("pmessage"));
        assert_eq!(items[2], Reply::text("+reset-master"));
        assert_eq!(items[3], Reply::text(format!("master mymaster {ip} 6379")));
        let m = s.call(&["SENTINEL", "MASTER", "mymaster"]).await.unwrap();
        assert_eq!(field(&m, "num-slaves").as_deref(), Some("0"));
        assert_eq!(field(&m, "num-other-sentinels").as_deref(), Some("0"));
        assert!(
            wait_discovery(&topo, 30 * SEC).await,
            "replicas and Sentinels are found again"
        );
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
}

#[test]
fn replicas_and_sentinels_get_sdown_too() {
    let topo = Topology::default();
    let mut sim = redsim::sim(22);
    let mut cluster = Deployment::new(topo.clone()).seed(22).install(&mut sim);
    let (f, events) = (cluster.fault_handle(), cluster.event_log().clone());
    cluster.client(&mut sim, "test", async move {
        assert!(wait_discovery(&topo, 30 * SEC).await);
        f.request(Fault::Crash("redis-3".into()));
        f.request(Fault::Crash("sentinel-3".into()));
        let both = |ev: &[SentinelEvent]| {
            ev.iter()
                .filter(|e| e.event == "+sdown" && e.payload.starts_with("slave "))
                .count()
                == 2
                && ev
                    .iter()
                    .filter(|e| e.event == "+sdown" && e.payload.starts_with("sentinel "))
                    .count()
                    == 2
        };
        assert!(wait_events(&events, 20 * SEC, both).await);
        let r3 = turmoil::lookup("redis-3");
        let m = turmoil::lookup("redis-1");
        let slave = events_named(&events, "+sdown")
            .into_iter()
            .find(|e| e.payload.starts_with("slave"))
            .unwrap();
        assert_eq!(slave.payload, format!("slave {r3}:6379 {r3} 6379 @ mymaster {m} 6379"));
        let sentinel = events_named(&events, "+sdown")
            .into_iter()
            .find(|e| e.payload.starts_with("sentinel"))
            .unwrap();
        let parts: Vec<&str> = sentinel.payload.split(' ').collect();
        assert_eq!(parts[1].len(), 40, "Sentinels are named by run id");
        assert_eq!(parts[2], turmoil::lookup("sentinel-3").to_string());
        assert_eq!(&parts[4..], ["@", "mymaster", &m.to_string(), "6379"]);
        assert_eq!(
            events_named(&events, "+odown").len(),
            0,
            "a replica or Sentinel is never ODOWN"
        );
        let mut s = connect("sentinel-1", SENTINEL_PORT).await;
        let replicas = s.call(&["SENTINEL", "REPLICAS", "mymaster"]).await.unwrap();
        let dead = replicas
            .as_array()
            .unwrap()
            .iter()
            .find(|r| field(r, "ip") == Some(r3.to_string()))
            .unwrap();
        assert!(
            field(dead, "flags").unwrap().starts_with("s_down,slave"),
            "{:?}",
            field(dead, "flags")
        );
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
}

/// A "data node" that answers every request with garbage.
async fn garbage_server() -> turmoil::Result {
    let listener = turmoil::net::TcpListener::bind(("0.0.0.0", REDIS_PORT)).await?;
    loop {
        let (mut s, _) = listener.accept().await?;
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0
                    || s.write_all(b"+NOT-A-PONG\r\n:12\r\n$3\r\nxyz\r\n\xff\xfe garbage")
                        .await
                        .is_err()
                {
                    break;
                }
            }
        });
    }
}

#[test]
fn a_data_node_answering_garbage_is_down_not_trusted() {
    // One Sentinel, quorum 1, monitoring the test's own host `garbage` instead of the deployment's redis-1 (which
    // runs, unwatched).
    let topo = Topology {
        replicas: 0,
        sentinels: 1,
        quorum: 1,
        down_after_ms: 3000,
        ..Topology::default()
    };
    let mut sim = redsim::sim(23);
    let mut cluster = Deployment::new(topo)
        .seed(23)
        .sentinel_config(|c| c.masters[0].host = "garbage".into())
        .install(&mut sim);
    sim.host("garbage", garbage_server);
    cluster.client(&mut sim, "test", async move {
        tokio::time::sleep(10 * SEC).await;
        let mut s = connect("sentinel-1", SENTINEL_PORT).await;
        let m = s.call(&["SENTINEL", "MASTER", "mymaster"]).await.unwrap();
        assert_eq!(
            field(&m, "ip"),
            Some(turmoil::lookup("garbage").to_string()),
            "it watches the garbage"
        );
        assert!(
            field(&m, "flags").unwrap().starts_with("s_down,o_down,master"),
            "{:?}",
            field(&m, "flags")
        );
        assert_eq!(
            field(&m, "runid").as_deref(),
            Some(""),
            "nothing from the garbage was believed"
        );
        assert_eq!(
            s.call(&["PING"]).await.unwrap(),
            Reply::Simple("PONG".into()),
            "the Sentinel still answers"
        );
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    assert!(cluster.event_log().events().iter().any(|e| e.event == "+sdown"));
}

#[test]
fn garbage_sent_to_a_sentinel_gets_errors_not_a_crash() {
    let topo = Topology {
        replicas: 0,
        sentinels: 1,
        quorum: 1,
        ..Topology::default()
    };
    let mut sim = redsim::sim(24);
    let mut cluster = Deployment::new(topo).seed(24).install(&mut sim);
    cluster.client(&mut sim, "test", async move {
        let inputs: &[&[u8]] = &[
            b"*1\r\n$-5\r\n",
            b"\x00\x01\x02\xff\r\n",
            b"*3\r\n$8\r\nSENTINEL\r\n$3\r\nSET\r\n$8\r\nmymaster\r\n",
            b"SENTINEL IS-MASTER-DOWN-BY-ADDR x 99999999999999999999 1 *\r\n",
            b"SENTINEL MONITOR m \"unterminated 1 1\r\n",
            b"PUBLISH __sentinel__:hello a,b,c,d,e,f,g,h\r\n",
            b"PUBLISH __sentinel__:hello 1.2.3.4,1,x,99999999999999999999999,mymaster,1.1.1.1,1,1\r\n",
            b"SUBSCRIBE a\r\nGET x\r\nPING\r\n",
        ];
        for input in inputs {
            let mut c = connect("sentinel-1", SENTINEL_PORT).await;
            c.send_raw(input).await.unwrap();
            // Whatever comes back must be valid RESP (or a closed connection); then the Sentinel still answers.
            while let Ok(reply) = c.read().await {
                let _ = reply;
            }
            let mut probe = connect("sentinel-1", SENTINEL_PORT).await;
            assert_eq!(
                probe.call(&["PING"]).await.unwrap(),
                Reply::Simple("PONG".into()),
                "after {input:?}"
            );
        }
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
}

#[test]
fn a_sentinel_loads_its_state_file_and_flushes_changes_to_it() {
    let topo = Topology {
        replicas: 0,
        sentinels: 1,
        quorum: 1,
        ..Topology::default()
    };
    let mut sim = redsim::sim(29);
    // A state no topology describes: a master elsewhere, epochs, a replica it knew.
    let mut cluster = Deployment::new(topo)
        .seed(29)
        .sentinel_config(|c| {
            let master = &mut c.masters[0];
            master.host = "10.0.0.9".into();
            master.config_epoch = 3;
            master.known_replicas = vec![("10.0.0.7".into(), REDIS_PORT)];
            c.current_epoch = 5;
        })
        .install(&mut sim);
    let f = cluster.fault_handle();
    cluster.client(&mut sim, "test", async move {
        tokio::time::sleep(SEC).await;
        let mut s = connect("sentinel-1", SENTINEL_PORT).await;
        let m = s.call(&["SENTINEL", "MASTER", "mymaster"]).await.unwrap();
        assert_eq!(field(&m, "config-epoch").as_deref(), Some("3"));
        assert_eq!(field(&m, "quorum").as_deref(), Some("1"));
        let replicas = s.call(&["SENTINEL", "REPLICAS", "mymaster"]).await.unwrap();
        assert!(
            format!("{replicas:?}").contains("10.0.0.7"),
            "known replica loaded: {replicas:?}"
        );
        assert_eq!(
            s.call(&["SENTINEL", "SET", "mymaster", "quorum", "2"]).await.unwrap(),
            Reply::ok()
        );
        // Restarted, it starts from its state file (as the deployment restarts Sentinels): quorum 2 is only there.
        f.request(Fault::Restart("sentinel-1".into()));
        tokio::time::sleep(SEC).await;
        let mut s = connect("sentinel-1", SENTINEL_PORT).await;
        let m = s.call(&["SENTINEL", "MASTER", "mymaster"]).await.unwrap();
        assert_eq!(field(&m, "quorum").as_deref(), Some("2"), "the change was flushed");
        assert_eq!(field(&m, "config-epoch").as_deref(), Some("3"));
        let replicas = s.call(&["SENTINEL", "REPLICAS", "mymaster"]).await.unwrap();
        assert!(
            format!("{replicas:?}").contains("10.0.0.7"),
            "known replica kept: {replicas:?}"
        );
        Ok(())
    });
    cluster.run(&mut sim).unwrap();
    let restarted = cluster.sentinel("sentinel-1").expect("running");
    assert_eq!(restarted.current_epoch(), 5);
    assert_eq!(
        restarted.master_addr("mymaster"),
        Some(("10.0.0.9".to_string(), REDIS_PORT))
    );
}
