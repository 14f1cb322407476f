//! The recorder: what a workload asked for and what it was told, with invoke and complete times, for the
//! checkers to judge.
//!
//! The workload can be redsim's own (the scenarios' writers and readers) or a user's service: either calls the
//! recorder around each operation. The recorder keeps only the caller's side of the story. Which node served
//! an operation is never taken from the caller: [`crate::History`] finds it in the data nodes' execution log,
//! by the connection's name (`CLIENT SETNAME`, so give each client the name it is recorded under) and time.
//!
//! ```
//! use redsim::{OpKind, Recorder};
//!
//! let rec = Recorder::new();
//! rec.declare_reader("stock-reader", "replica-only");
//! // Inside a simulated host, around the service's own call:
//! let op = rec.begin("stock-reader", OpKind::Read, "stock:apple");
//! let reply: Result<Option<String>, String> = Ok(Some("12".into())); // what the service got
//! op.finish(&reply);
//! assert_eq!(rec.ops().len(), 1);
//! ```

use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::deployment::now_ms;
use crate::history::{Op, OpKind};
use crate::scenario::{ClientRole, ClientSpec};

#[derive(Debug, Default)]
struct Inner {
    ops: Vec<Op>,
    clients: Vec<ClientSpec>,
}

/// Records operations. Cloning shares the record (hand a clone to each simulated host).
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<Inner>>,
}

impl Recorder {
    /// An empty record.
    pub fn new() -> Recorder {
        Recorder::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Declares a client the checkers should know: its name (the one it sets with `CLIENT SETNAME`), whether it
    /// writes or reads, and its read policy (`replica-only` readers are the ones `reads_never_on_master` and
    /// `failover_before_sdown` judge). A client that both reads and writes is declared as a reader.
    pub fn declare(&self, spec: ClientSpec) {
        let mut inner = self.lock();
        inner.clients.retain(|c| c.name != spec.name);
        inner.clients.push(spec);
    }

    /// Declares a reading client with its read policy (`replica-only`, `replica-preferred`, `master`,
    /// `nearest`).
    pub fn declare_reader(&self, name: &str, policy: &str) {
        self.declare(ClientSpec {
            policy: policy.into(),
            ..ClientSpec::new(name, ClientRole::Reader)
        });
    }

    /// Declares a writing client.
    pub fn declare_writer(&self, name: &str) {
        self.declare(ClientSpec::new(name, ClientRole::Writer));
    }

    /// The declared clients, in declaration order.
    pub fn clients(&self) -> Vec<ClientSpec> {
        self.lock().clients.clone()
    }

    /// Starts recording an operation now (simulated time): finish it with [`Pending::finish`], [`Pending::ok`]
    /// or [`Pending::err`].
    pub fn begin(&self, client: &str, kind: OpKind, key: &str) -> Pending {
        Pending {
            recorder: self.clone(),
            op: Op {
                client: client.to_string(),
                kind,
                key: key.to_string(),
                written: None,
                invoke_ms: now_ms(),
                complete_ms: 0,
                outcome: Ok(None),
                served_by: None,
            },
        }
    }

    /// Records a read around `call`, which returns the value read (or nil) or an error.
    pub async fn read<E: Display>(
        &self,
        client: &str,
        key: &str,
        call: impl Future<Output = Result<Option<String>, E>>,
    ) -> Result<Option<String>, E> {
        let op = self.begin(client, OpKind::Read, key);
        let r = call.await;
        op.finish(&r);
        r
    }

    /// Records a write around `call`. `value` is the value the write stores, when it stores one the checkers
    /// can trace (a `SET`): `no_reply_mixup` then knows every value a read of that key may return, and
    /// `writes_only_on_master` finds the very command in the log.
    pub async fn write<T, E: Display>(
        &self,
        client: &str,
        key: &str,
        value: Option<&str>,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let mut op = self.begin(client, OpKind::Write, key);
        if let Some(v) = value {
            op = op.writing(v);
        }
        let r = call.await;
        match &r {
            Ok(_) => op.ok(None),
            Err(e) => op.err(e),
        }
        r
    }

    /// Adds a finished operation.
    pub fn record(&self, op: Op) {
        self.lock().ops.push(op);
    }

    /// A copy of the operations so far, in the order they completed.
    pub fn ops(&self) -> Vec<Op> {
        self.lock().ops.clone()
    }

    /// Moves the operations out (a loaded run records millions: no second copy).
    pub fn take_ops(&self) -> Vec<Op> {
        std::mem::take(&mut self.lock().ops)
    }
}

/// An operation being recorded.
#[derive(Debug)]
#[must_use = "an operation is recorded when it is finished"]
pub struct Pending {
    recorder: Recorder,
    op: Op,
}

impl Pending {
    /// The value this write stores (see [`Recorder::write`]).
    pub fn writing(mut self, value: &str) -> Pending {
        self.op.written = Some(value.to_string());
        self
    }

    /// It succeeded: `value` is what a read returned (`None` for nil, and for writes).
    pub fn ok(mut self, value: Option<String>) {
        self.op.outcome = Ok(value);
        self.done();
    }

    /// It failed; `error` says how (a short kind such as `no_replica_available` reads best in reports).
    pub fn err(mut self, error: impl Display) {
        self.op.outcome = Err(error.to_string());
        self.done();
    }

    /// Records a read's result as it came.
    pub fn finish<E: Display>(self, result: &Result<Option<String>, E>) {
        match result {
            Ok(v) => self.ok(v.clone()),
            Err(e) => self.err(e),
        }
    }

    fn done(mut self) {
        self.op.complete_ms = now_ms();
        let recorder = self.recorder.clone();
        recorder.record(self.op);
    }
}
