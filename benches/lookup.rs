//! Read performance: Okta's "does this user exist?" (`GET /Users?filter=userName eq "…"`) through
//! the real bridge with N users stored (SQLite), against a ceiling measured in the same run with
//! the same client, connections and duration: a do-nothing actix handler behind the same
//! authentication middleware, answering a fixed ListResponse (the very body a lookup answers).
//! Then a page of an unfiltered list, as Okta's import reads them (`GET /Users?startIndex=1&count=100`,
//! and the last page), against the lookup measured in the same run.
//! Then, with the `tableau-scim` binary as a separate process on the same database: the cold
//! start (spawn to the first answered authenticated lookup) and the resident memory after a
//! lookup load (VmRSS and its peak VmHWM). Everything talks to 127.0.0.1 only, and every phase
//! stops by itself after a fixed time.
//!
//! Run: `cargo bench --bench lookup`. Under `cargo test --all-targets` (no `--bench` argument) it
//! makes a smoke run (1,000 users, 0.3 s per load) so that it cannot rot.
//!
//! Env: `LOOKUP_BENCH_USERS` (default 100000), `LOOKUP_BENCH_SECS` (measured seconds per load,
//! default 5), `LOOKUP_BENCH_WARMUP_SECS` (default 1), `LOOKUP_BENCH_CONCURRENCY` (keep-alive
//! connections, default 32), `LOOKUP_BENCH_CLIENT` (`builtin`, the default, or `wrk`),
//! `LOOKUP_BENCH_CLIENT_THREADS` (default 1), `LOOKUP_BENCH_COLD_STARTS` (default 3),
//! `LOOKUP_BENCH_ROUNDS` (rounds of the ceiling then the lookup, alternated; the figures are
//! the median round's; default 1), `LOOKUP_BENCH_ONLY=lookup` (stop after those rounds),
//! `LOOKUP_BENCH_NO_CACHE=1` (seed afresh instead of copying the database cached under
//! `target/tmp`, which is keyed by the user count and a digest of the SQLite migrations).
//!
//! The built-in client is a hand-written HTTP/1.1 keep-alive client: one task per connection
//! on a runtime of its own (one thread by default), each writing a request and reading the
//! head and the `Content-Length` body before sending the next; the body of every 256th answer
//! is parsed and checked (`totalResults` 1, the right `userName`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tableau_scim::app::Application;
use tableau_scim::config::Settings;
use tableau_scim::http::auth::{Credentials, SharedCredentials};
use tableau_scim::http::error::SCIM_CONTENT_TYPE;
use tableau_scim::http::{AppState, middleware};
use tableau_scim::model::ResourceKind;
use tableau_scim::provision::{Engine, Service};
use tableau_scim::scim::document::prepare_document;
use tableau_scim::scim::schema::SchemaRegistry;
use tableau_scim::store::{self, DEFAULT_TENANT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The allocator the `tableau-scim` binary uses, so that in-process figures measure what ships.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const TOKEN: &str = "lookup-bench-token-0123456789abcdef";
const BASE_PATH: &str = "/scim/v2";
/// Bumped whenever the seeded documents change, so that a cached database is not reused.
const SEED_VERSION: u32 = 1;
/// Every how many answers (per connection) the built-in client parses and checks the body.
const SAMPLE_EVERY: u64 = 256;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_secs(name: &str, default: f64) -> Duration {
    let secs = std::env::var(name)
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(default);
    Duration::from_secs_f64(secs)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientKind {
    Builtin,
    Wrk,
}

struct Config {
    users: usize,
    warmup: Duration,
    measure: Duration,
    concurrency: usize,
    client: ClientKind,
    client_threads: usize,
    cold_starts: usize,
    /// Rounds of the ceiling and the lookup, alternated (`LOOKUP_BENCH_ROUNDS`).
    rounds: usize,
    /// Stop after the lookup rounds (`LOOKUP_BENCH_ONLY=lookup`): for comparing two builds.
    lookup_only: bool,
    cache: bool,
    /// actix workers of both servers: actix's default, as the real binary uses.
    workers: usize,
}

impl Config {
    fn from_env() -> Result<Self, BoxError> {
        // `cargo bench` passes `--bench`; `cargo test --all-targets` does not: a smoke run then.
        let benchmarking = std::env::args().any(|a| a == "--bench");
        let client = match std::env::var("LOOKUP_BENCH_CLIENT").as_deref() {
            Err(_) | Ok("") | Ok("builtin") => ClientKind::Builtin,
            Ok("wrk") => ClientKind::Wrk,
            Ok(other) => return Err(format!("LOOKUP_BENCH_CLIENT={other}: builtin or wrk").into()),
        };
        let client = if client == ClientKind::Wrk && !wrk_available() {
            println!("LOOKUP_BENCH_CLIENT=wrk, but no `wrk` on PATH: using the built-in client");
            ClientKind::Builtin
        } else {
            client
        };
        Ok(Self {
            users: env_usize(
                "LOOKUP_BENCH_USERS",
                if benchmarking { 100_000 } else { 1_000 },
            )
            .max(1),
            warmup: env_secs(
                "LOOKUP_BENCH_WARMUP_SECS",
                if benchmarking { 1.0 } else { 0.1 },
            ),
            measure: env_secs("LOOKUP_BENCH_SECS", if benchmarking { 5.0 } else { 0.3 })
                .max(Duration::from_millis(50)),
            concurrency: env_usize("LOOKUP_BENCH_CONCURRENCY", 32).max(1),
            client,
            client_threads: env_usize("LOOKUP_BENCH_CLIENT_THREADS", 1).max(1),
            cold_starts: env_usize("LOOKUP_BENCH_COLD_STARTS", 3).max(1),
            rounds: env_usize("LOOKUP_BENCH_ROUNDS", 1).max(1),
            lookup_only: std::env::var("LOOKUP_BENCH_ONLY").as_deref() == Ok("lookup"),
            cache: benchmarking && std::env::var_os("LOOKUP_BENCH_NO_CACHE").is_none(),
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The database: N Okta-shaped users, created through the store API.

fn user_name(i: usize) -> String {
    format!("user{i:06}@example.com")
}

/// What Okta sends to create a user (catalog app), read as a POST /Users body would be.
fn okta_user(i: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name(i),
        "name": {"givenName": "Bench", "familyName": format!("User {i}")},
        "emails": [{"primary": true, "value": user_name(i), "type": "work"}],
        "displayName": format!("Bench User {i}"),
        "locale": "en-US",
        "externalId": format!("00u{i:017}"),
        "active": true
    })
}

/// Creates `users` users in a new SQLite database at `path` (256 creates in flight, so that the
/// store's group commit batches them), then copies it, compacted and WAL-free, to `out`.
async fn seed(path: &Path, out: &Path, users: usize) -> Result<(), BoxError> {
    let store = store::connect(&format!("sqlite://{}", path.display())).await?;
    let schema = SchemaRegistry::builtin()
        .resource(ResourceKind::User)
        .clone();
    let started = Instant::now();
    let mut creates = stream::iter(0..users)
        .map(|i| {
            let (store, schema) = (store.clone(), schema.clone());
            async move {
                let doc = prepare_document(&okta_user(i), &schema)?;
                let id = uuid::Uuid::new_v4().to_string();
                store
                    .create(DEFAULT_TENANT, ResourceKind::User, &id, &doc, &[])
                    .await?;
                Ok::<(), BoxError>(())
            }
        })
        .buffer_unordered(256);
    while let Some(created) = creates.next().await {
        created?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "seeded {users} users in {secs:.1} s ({:.0}/s)",
        users as f64 / secs
    );
    // VACUUM INTO reads a consistent snapshot (WAL included) while the store is still open.
    let out = out
        .to_str()
        .ok_or("the database path is not UTF-8")?
        .to_owned();
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || -> Result<(), BoxError> {
        rusqlite::Connection::open(&path)?.execute("VACUUM INTO ?1", [out])?;
        Ok(())
    })
    .await??;
    Ok(())
}

/// Cache key: the user count, the seed version and the SQLite migrations (a schema change in
/// the store invalidates the cached database).
fn cache_file(users: usize) -> Result<PathBuf, BoxError> {
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&migrations)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    let mut digest = Sha256::new();
    digest.update(SEED_VERSION.to_le_bytes());
    for f in files {
        digest.update(f.file_name().map(|n| n.as_encoded_bytes()).unwrap_or(b""));
        digest.update(std::fs::read(&f)?);
    }
    let key = hex::encode(&digest.finalize()[..6]);
    Ok(Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("lookup-bench-{users}-{key}.db")))
}

/// The database the run serves, at `dir/tableau-scim.db`: a copy of the cached one when there
/// is one, else freshly seeded (and cached when caching).
async fn database(cfg: &Config, dir: &Path) -> Result<PathBuf, BoxError> {
    let db = dir.join("tableau-scim.db");
    let seed_dir = tempfile::tempdir()?;
    let seed_db = seed_dir.path().join("seed.db");
    if !cfg.cache {
        seed(&seed_db, &db, cfg.users).await?;
        return Ok(db);
    }
    let cached = cache_file(cfg.users)?;
    if cached.exists() {
        println!("database: cached {}", cached.display());
    } else {
        // Cached databases of other keys are stale (or of another user count): 100k users are
        // tens of MB each, so keep one.
        if let Some(parent) = cached.parent() {
            std::fs::create_dir_all(parent)?;
            for entry in std::fs::read_dir(parent)? {
                let path = entry?.path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.starts_with("lookup-bench-") && name.ends_with(".db") {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let partial = cached.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        seed(&seed_db, &partial, cfg.users).await?;
        std::fs::rename(&partial, &cached)?;
        println!("database: seeded and cached as {}", cached.display());
    }
    std::fs::copy(&cached, &db)?;
    Ok(db)
}

// ---------------------------------------------------------------------------------------------
// The servers, each on a runtime of its own, as in its own process (`#[tokio::main]`).

type Serving = Pin<Box<dyn Future<Output = std::io::Result<()>>>>;

struct Running {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: std::thread::JoinHandle<Result<(), String>>,
}

impl Running {
    async fn stop(self) -> Result<(), BoxError> {
        self.handle.stop(true).await;
        tokio::task::spawn_blocking(move || self.thread.join())
            .await?
            .map_err(|_| "a server thread panicked")??;
        Ok(())
    }
}

/// Runs `build` on a new multi-threaded runtime in a thread of its own, then serves.
fn spawn_server<F, Fut>(build: F) -> Result<Running, BoxError>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(u16, ServerHandle, Serving), String>>,
{
    let (started, ready) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            match build().await {
                Ok((port, handle, serving)) => {
                    let _ = started.send(Ok((port, handle)));
                    serving.await.map_err(|e| e.to_string())
                }
                Err(e) => {
                    let _ = started.send(Err(e));
                    Ok(())
                }
            }
        })
    });
    let (port, handle) = ready.recv()??;
    Ok(Running {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        handle,
        thread,
    })
}

/// The real bridge (no Tableau configured: a plain SCIM store) serving the database at `db`.
fn spawn_bridge(db: &Path) -> Result<Running, BoxError> {
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: db.parent().ok_or("no data directory")?.to_path_buf(),
        store: Some(format!("sqlite://{}", db.display())),
        ..Default::default()
    };
    settings.auth.tokens = vec![TOKEN.into()];
    spawn_server(move || async move {
        let app = Application::build(settings)
            .await
            .map_err(|e| format!("{e:#}"))?;
        let (port, handle) = (app.port(), app.handle());
        Ok((port, handle, Box::pin(app.run_until_stopped()) as Serving))
    })
}

/// The ceiling: the bridge's outer layers (panic guard, `AppState`, the authentication
/// middleware on the SCIM scope) around a handler that answers `body` as it is.
fn spawn_ceiling(body: web::Bytes, workers: usize) -> Result<Running, BoxError> {
    spawn_server(move || async move {
        let build = async move {
            let mut settings = Settings::default();
            settings.auth.tokens = vec![TOKEN.into()];
            let credentials = Credentials::from_settings(&settings.auth)?;
            let store = store::connect("sqlite::memory:").await?;
            let engine = Engine::new(
                store,
                None,
                settings.provision.clone(),
                settings.journal.clone(),
            );
            let state = web::Data::new(AppState {
                settings: Arc::new(settings),
                registry: SchemaRegistry::builtin(),
                provisioning: Service::new(engine),
                credentials: Arc::new(SharedCredentials::new(credentials)),
            });
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            let port = listener.local_addr()?.port();
            let server = HttpServer::new(move || {
                let body = body.clone();
                App::new()
                    .wrap(from_fn(middleware::catch_panic))
                    .app_data(state.clone())
                    .service(
                        web::scope(BASE_PATH)
                            .wrap(from_fn(middleware::authenticate))
                            .route(
                                "/Users",
                                web::get().to(move || {
                                    let body = body.clone();
                                    async move {
                                        HttpResponse::Ok()
                                            .insert_header((
                                                header::CONTENT_TYPE,
                                                SCIM_CONTENT_TYPE,
                                            ))
                                            .body(body)
                                    }
                                }),
                            ),
                    )
            })
            .workers(workers)
            .listen(listener)?
            .run();
            Ok::<_, BoxError>((port, server.handle(), Box::pin(server) as Serving))
        };
        build.await.map_err(|e| e.to_string())
    })
}

// ---------------------------------------------------------------------------------------------
// The client.

/// What a load asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Query {
    /// `userName eq` of a random user.
    Lookup,
    /// `startIndex=N&count=100` of the unfiltered list.
    Page { start_index: usize },
}

/// Users per list page.
const PAGE: usize = 100;

/// What a load counted: answers completed within the measured window, errors at any time.
#[derive(Default, Clone, Copy)]
struct Tally {
    ok: u64,
    non_200: u64,
    bad_body: u64,
    io_errors: u64,
    checked: u64,
}

impl Tally {
    fn add(&mut self, o: Tally) {
        self.ok += o.ok;
        self.non_200 += o.non_200;
        self.bad_body += o.bad_body;
        self.io_errors += o.io_errors;
        self.checked += o.checked;
    }
}

struct Measured {
    tally: Tally,
    secs: f64,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.tally.ok as f64 / self.secs
    }

    fn failures(&self) -> u64 {
        self.tally.non_200 + self.tally.bad_body + self.tally.io_errors
    }
}

#[derive(Clone)]
struct Load {
    addr: SocketAddr,
    users: usize,
    concurrency: usize,
    warmup: Duration,
    measure: Duration,
    /// Whether the answer must name the user asked for (not so for the ceiling's fixed body).
    check_user: bool,
    query: Query,
}

fn write_request(out: &mut Vec<u8>, addr: SocketAddr, user: usize, query: Query) {
    out.clear();
    let mut head = String::with_capacity(256);
    // Writing to a String cannot fail.
    let _ = match query {
        Query::Lookup => write!(
            head,
            "GET {BASE_PATH}/Users?filter=userName%20eq%20%22user{user:06}%40example.com%22"
        ),
        Query::Page { start_index } => write!(
            head,
            "GET {BASE_PATH}/Users?startIndex={start_index}&count={PAGE}"
        ),
    };
    let _ = write!(
        head,
        " HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Accept: application/scim+json\r\n\r\n"
    );
    out.extend_from_slice(head.as_bytes());
}

fn invalid(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_owned())
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(16 * 1024);
    }
    match stream.read_buf(buf).await? {
        0 => Err(std::io::ErrorKind::UnexpectedEof.into()),
        _ => Ok(()),
    }
}

/// Sends `request` and reads one answer into `buf`: its status and the body's range.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<(u16, std::ops::Range<usize>)> {
    stream.write_all(request).await?;
    buf.clear();
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        read_more(stream, buf).await?;
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| invalid("head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| invalid("no status"))?;
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .ok_or_else(|| invalid("no Content-Length"))?;
    let body = head_end + 4..head_end + 4 + length;
    while buf.len() < body.end {
        read_more(stream, buf).await?;
    }
    Ok((status, body))
}

fn body_ok(body: &[u8], user: Option<usize>) -> bool {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    v["totalResults"] == 1
        && user.is_none_or(|u| v["Resources"][0]["userName"] == user_name(u).as_str())
}

/// A list page: every user counted, the page full (or the rest of the list), each of its
/// resources a user of the bench (they were created 256 at a time, so creation order is not
/// name order).
fn page_ok(body: &[u8], users: usize, start_index: usize) -> bool {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let expected = users.saturating_sub(start_index - 1).min(PAGE);
    v["totalResults"] == users
        && v["itemsPerPage"] == expected
        && v["Resources"].as_array().is_some_and(|r| {
            r.len() == expected
                && r.iter().all(|u| {
                    u["userName"]
                        .as_str()
                        .is_some_and(|n| n.starts_with("user") && n.ends_with("@example.com"))
                })
        })
}

async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One keep-alive connection, one request at a time, until the load's end.
async fn connection(load: Arc<Load>, seed: u64, start: Instant) -> Tally {
    let warm_end = start + load.warmup;
    let end = warm_end + load.measure;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut tally = Tally::default();
    let mut request = Vec::with_capacity(256);
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut stream: Option<TcpStream> = None;
    let mut sent: u64 = 0;
    while Instant::now() < end {
        let s = match &mut stream {
            Some(s) => s,
            None => match connect(load.addr).await {
                Ok(s) => stream.insert(s),
                Err(_) => {
                    tally.io_errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let user = rng.usize(0..load.users);
        write_request(&mut request, load.addr, user, load.query);
        let answer = exchange(s, &request, &mut buf).await;
        let done = Instant::now();
        let counted = done >= warm_end && done < end;
        match answer {
            Ok((200, body)) => {
                if sent.is_multiple_of(SAMPLE_EVERY) {
                    tally.checked += 1;
                    let ok = match load.query {
                        Query::Lookup => body_ok(&buf[body], load.check_user.then_some(user)),
                        Query::Page { start_index } => page_ok(&buf[body], load.users, start_index),
                    };
                    if !ok {
                        tally.bad_body += 1;
                    }
                }
                if counted {
                    tally.ok += 1;
                }
            }
            Ok(_) => tally.non_200 += 1,
            Err(_) => {
                tally.io_errors += 1;
                stream = None;
            }
        }
        sent += 1;
    }
    tally
}

async fn builtin_load(load: Load) -> Result<Measured, BoxError> {
    let load = Arc::new(load);
    let start = Instant::now();
    let tasks: Vec<_> = (0..load.concurrency)
        .map(|c| tokio::spawn(connection(load.clone(), 0x5eed + c as u64, start)))
        .collect();
    let mut tally = Tally::default();
    for t in tasks {
        tally.add(t.await?);
    }
    Ok(Measured {
        tally,
        secs: load.measure.as_secs_f64(),
    })
}

fn wrk_available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The same load with `wrk` (a Lua `request` picks the user; no body check).
async fn wrk_load(load: Load, threads: usize, dir: &Path) -> Result<Measured, BoxError> {
    let script = dir.join("lookup.lua");
    let lua = r#"
local users = USERS
request = function()
  local path = string.format(
    "BASE/Users?filter=userName%%20eq%%20%%22user%06d%%40example.com%%22",
    math.random(0, users - 1))
  return wrk.format("GET", path, {["Authorization"] = "Bearer TOKEN",
                                  ["Accept"] = "application/scim+json"})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("LOOKUP_BENCH %d %d %d %d\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout))
end
"#
    .replace("USERS", &load.users.to_string())
    .replace("BASE", BASE_PATH)
    .replace("TOKEN", TOKEN);
    std::fs::write(&script, lua)?;
    let url = format!("http://{}{BASE_PATH}/Users", load.addr);
    let run = |secs: u64| {
        let (script, url) = (script.clone(), url.clone());
        let conns = load.concurrency.max(threads);
        tokio::task::spawn_blocking(move || {
            Command::new("wrk")
                .args(["-t", &threads.to_string(), "-c", &conns.to_string()])
                .args(["-d", &format!("{secs}s"), "-s"])
                .arg(&script)
                .arg(&url)
                .output()
        })
    };
    // wrk takes whole seconds.
    if !load.warmup.is_zero() {
        run(load.warmup.as_secs_f64().ceil() as u64).await??;
    }
    let out = run(load.measure.as_secs_f64().ceil().max(1.0) as u64).await??;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("LOOKUP_BENCH "))
        .ok_or_else(|| format!("unexpected wrk output: {text}"))?;
    let n: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let [requests, micros, status, io] = n[..] else {
        return Err(format!("unexpected wrk summary: {line}").into());
    };
    Ok(Measured {
        tally: Tally {
            ok: requests - status,
            non_200: status,
            io_errors: io,
            ..Tally::default()
        },
        secs: micros as f64 / 1e6,
    })
}

async fn run_load(cfg: &Config, load: Load, dir: &Path) -> Result<Measured, BoxError> {
    match (cfg.client, load.query) {
        (ClientKind::Wrk, Query::Lookup) => wrk_load(load, cfg.client_threads, dir).await,
        // The wrk script asks for lookups only.
        _ => builtin_load(load).await,
    }
}

/// One lookup, checked; returns the answer's body.
async fn one_lookup(addr: SocketAddr, user: usize) -> Result<Vec<u8>, BoxError> {
    lookup_on(connect(addr).await?, addr, user).await
}

async fn lookup_on(
    mut stream: TcpStream,
    addr: SocketAddr,
    user: usize,
) -> Result<Vec<u8>, BoxError> {
    let (mut request, mut buf) = (Vec::new(), Vec::new());
    write_request(&mut request, addr, user, Query::Lookup);
    let (status, body) = exchange(&mut stream, &request, &mut buf).await?;
    let body = buf[body].to_vec();
    if status != 200 || !body_ok(&body, Some(user)) {
        return Err(format!(
            "lookup of {} answered {status}: {}",
            user_name(user),
            String::from_utf8_lossy(&body)
        )
        .into());
    }
    Ok(body)
}

// ---------------------------------------------------------------------------------------------
// The binary as a separate process: cold start and memory.

/// Kills the child when dropped, whatever happened.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16, BoxError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn spawn_binary(db: &Path, port: u16, log: &Path) -> Result<ChildGuard, BoxError> {
    let log = std::fs::File::create(log)?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tableau-scim"));
    cmd.arg("serve")
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--store", &format!("sqlite://{}", db.display())])
        .args(["--token", TOKEN])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TABLEAU_SCIM_") {
            cmd.env_remove(key);
        }
    }
    Ok(ChildGuard(cmd.spawn()?))
}

/// From `spawned` to the first answered lookup, connecting every 0.5 ms until it listens.
async fn first_answer(
    child: &mut ChildGuard,
    addr: SocketAddr,
    user: usize,
    spawned: Instant,
    log: &Path,
) -> Result<Duration, BoxError> {
    loop {
        if let Some(status) = child.0.try_wait()? {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!("tableau-scim serve exited ({status}):\n{log}").into());
        }
        if spawned.elapsed() > Duration::from_secs(60) {
            return Err("tableau-scim serve did not answer within 60 s".into());
        }
        // Not listening yet: try again soon. Once it listens, the lookup must succeed.
        match connect(addr).await {
            Ok(stream) => {
                lookup_on(stream, addr, user).await?;
                return Ok(spawned.elapsed());
            }
            Err(_) => tokio::time::sleep(Duration::from_micros(500)).await,
        }
    }
}

/// `VmRSS` and `VmHWM` of a process, in MiB.
fn memory_mib(pid: u32) -> Result<(f64, f64), BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<f64, BoxError> {
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| format!("no {name} in /proc/{pid}/status"))?;
        Ok(kib / 1024.0)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

struct ProcessFigures {
    cold_ms: Vec<f64>,
    rss_at_start: f64,
    lookup: Measured,
    rss: f64,
    hwm: f64,
    /// First pages of the list after the lookups, and the memory then.
    list: Measured,
    rss_after_list: f64,
    hwm_after_list: f64,
}

async fn binary_phase(cfg: &Config, db: &Path, dir: &Path) -> Result<ProcessFigures, BoxError> {
    let log = dir.join("serve.log");
    let mut cold_ms = Vec::new();
    let mut rng = fastrand::Rng::with_seed(7);
    for round in 1..=cfg.cold_starts {
        let port = free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let spawned = Instant::now();
        let mut child = spawn_binary(db, port, &log)?;
        let cold = first_answer(&mut child, addr, rng.usize(0..cfg.users), spawned, &log).await?;
        let (rss_at_start, _) = memory_mib(child.0.id())?;
        cold_ms.push(cold.as_secs_f64() * 1000.0);
        println!(
            "  cold start {round}: first answered lookup after {:.1} ms (VmRSS then {rss_at_start:.1} MiB)",
            cold.as_secs_f64() * 1000.0
        );
        if round < cfg.cold_starts {
            continue; // dropping the guard kills it
        }
        let lookup = run_load(cfg, load(cfg, addr, true), dir).await?;
        let (rss, hwm) = memory_mib(child.0.id())?;
        let list = run_load(cfg, page_load(cfg, addr, 1), dir).await?;
        let (rss_after_list, hwm_after_list) = memory_mib(child.0.id())?;
        drop(child);
        return Ok(ProcessFigures {
            cold_ms,
            rss_at_start,
            lookup,
            rss,
            hwm,
            list,
            rss_after_list,
            hwm_after_list,
        });
    }
    Err("no cold start measured".into())
}

fn load(cfg: &Config, addr: SocketAddr, check_user: bool) -> Load {
    Load {
        addr,
        users: cfg.users,
        concurrency: cfg.concurrency,
        warmup: cfg.warmup,
        measure: cfg.measure,
        check_user,
        query: Query::Lookup,
    }
}

/// Pages of `PAGE` users from `start_index` of the unfiltered list.
fn page_load(cfg: &Config, addr: SocketAddr, start_index: usize) -> Load {
    Load {
        query: Query::Page { start_index },
        ..load(cfg, addr, false)
    }
}

/// The start of the last page of the list.
fn last_page(cfg: &Config) -> usize {
    cfg.users.saturating_sub(PAGE) + 1
}

// ---------------------------------------------------------------------------------------------

fn describe(label: &str, m: &Measured) {
    let t = &m.tally;
    println!(
        "  {label:<44} {:>9.0} req/s  ({} answers in {:.2} s; {} bodies checked; \
         {} non-200, {} bad bodies, {} I/O errors)",
        m.per_second(),
        t.ok,
        m.secs,
        t.checked,
        t.non_200,
        t.bad_body,
        t.io_errors
    );
}

/// The 1-minute load average: other work on the machine skews the figures.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn run(cfg: Config) -> Result<(), BoxError> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let client = match cfg.client {
        ClientKind::Builtin => format!(
            "built-in HTTP/1.1 keep-alive client, {} thread(s)",
            cfg.client_threads
        ),
        ClientKind::Wrk => format!("wrk, {} thread(s)", cfg.client_threads),
    };
    println!(
        "lookup benchmark: {} users (SQLite), {} connections, {:.1} s measured after {:.1} s of \
         warm-up per load, {} actix workers per server, client: {client}; servers and client \
         share this machine ({cpus} CPUs, load average {})",
        cfg.users,
        cfg.concurrency,
        cfg.measure.as_secs_f64(),
        cfg.warmup.as_secs_f64(),
        cfg.workers,
        load_average(),
    );
    let dir = tempfile::tempdir()?;
    let db = database(&cfg, dir.path()).await?;

    // In process: the bridge and the ceiling, one after the other, with the same client.
    let bridge = spawn_bridge(&db)?;
    // The ceiling answers exactly what the bridge answers for one user.
    let body = one_lookup(bridge.addr, cfg.users / 2).await?;
    println!("  a lookup answers {} bytes", body.len());
    let ceiling = spawn_ceiling(web::Bytes::from(body), cfg.workers)?;
    // Rounds of the ceiling then the lookup: the figures are the round of the median ratio, so
    // that a change in the machine's load during one round does not decide the figure.
    let mut rounds = Vec::new();
    for round in 1..=cfg.rounds {
        if cfg.rounds > 1 {
            println!("  round {round} of {}", cfg.rounds);
        }
        let ceiling_m = run_load(&cfg, load(&cfg, ceiling.addr, false), dir.path()).await?;
        describe("ceiling (fixed ListResponse, same auth)", &ceiling_m);
        let lookup_m = run_load(&cfg, load(&cfg, bridge.addr, true), dir.path()).await?;
        describe("userName eq lookup (bridge)", &lookup_m);
        if cfg.rounds > 1 {
            println!(
                "  lookup / ceiling: {:.1} %",
                100.0 * lookup_m.per_second() / ceiling_m.per_second()
            );
        }
        rounds.push((ceiling_m, lookup_m));
    }
    ceiling.stop().await?;
    rounds.sort_by(|a, b| {
        let ratio = |(c, l): &(Measured, Measured)| l.per_second() / c.per_second();
        ratio(a).total_cmp(&ratio(b))
    });
    let (ceiling_m, lookup_m) = rounds.swap_remove(rounds.len() / 2);
    if cfg.lookup_only {
        println!(
            "  median round: ceiling {:.0} req/s, lookup {:.0} req/s, lookup / ceiling {:.1} %",
            ceiling_m.per_second(),
            lookup_m.per_second(),
            100.0 * lookup_m.per_second() / ceiling_m.per_second()
        );
        return bridge.stop().await;
    }
    let first_m = run_load(&cfg, page_load(&cfg, bridge.addr, 1), dir.path()).await?;
    describe(&format!("startIndex=1&count={PAGE} (bridge)"), &first_m);
    let last = last_page(&cfg);
    let last_m = run_load(&cfg, page_load(&cfg, bridge.addr, last), dir.path()).await?;
    describe(&format!("startIndex={last}&count={PAGE} (bridge)"), &last_m);
    bridge.stop().await?;

    // The binary, on the same database.
    println!(
        "  {} as a separate process:",
        env!("CARGO_BIN_EXE_tableau-scim")
    );
    let process = binary_phase(&cfg, &db, dir.path()).await?;
    describe("userName eq lookup (separate process)", &process.lookup);
    describe(
        &format!("startIndex=1&count={PAGE} (separate process)"),
        &process.list,
    );

    let ratio = 100.0 * lookup_m.per_second() / ceiling_m.per_second();
    let cold = median(&process.cold_ms);
    let (cold_min, cold_max) = process
        .cold_ms
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &c| (lo.min(c), hi.max(c)));
    println!("  load average at the end: {}", load_average());
    println!();
    println!(
        "| {:<58} | {:>16} | {:>9} |",
        format!("{} users, {} connections", cfg.users, cfg.concurrency),
        "figure",
        "target"
    );
    println!("|{:-<60}|{:->18}|{:->11}|", "", "", "");
    let row = |what: &str, figure: String, target: &str| {
        println!("| {what:<58} | {figure:>16} | {target:>9} |");
    };
    row(
        "ceiling: do-nothing handler, same auth (req/s)",
        format!("{:.0}", ceiling_m.per_second()),
        "",
    );
    row(
        "userName eq lookup, in process (req/s)",
        format!("{:.0}", lookup_m.per_second()),
        "",
    );
    row("lookup / ceiling", format!("{ratio:.1} %"), "≥ 50 %");
    row(
        &format!("GET /Users?startIndex=1&count={PAGE}, in process (req/s)"),
        format!("{:.2}", first_m.per_second()),
        "",
    );
    row(
        "first page: lookups per page (lookup req/s ÷ page req/s)",
        format!("{:.1}", lookup_m.per_second() / first_m.per_second()),
        "a few",
    );
    row(
        &format!("GET /Users?startIndex={last}&count={PAGE}, in process (req/s)"),
        format!("{:.2}", last_m.per_second()),
        "",
    );
    row(
        "last page: lookups per page",
        format!("{:.1}", lookup_m.per_second() / last_m.per_second()),
        "",
    );
    row(
        "userName eq lookup, separate process (req/s)",
        format!("{:.0}", process.lookup.per_second()),
        "",
    );
    row(
        &format!(
            "cold start to first answered lookup (median of {})",
            process.cold_ms.len()
        ),
        format!("{cold:.0} ms"),
        "≤ 200 ms",
    );
    row(
        "cold start, min–max",
        format!("{cold_min:.0}–{cold_max:.0} ms"),
        "",
    );
    row(
        "VmRSS at the first answer",
        format!("{:.1} MiB", process.rss_at_start),
        "",
    );
    row(
        "VmRSS after the lookup load",
        format!("{:.1} MiB", process.rss),
        "≤ 64 MiB",
    );
    row(
        "VmHWM (peak RSS) after the lookup load",
        format!("{:.1} MiB", process.hwm),
        "",
    );
    row(
        &format!(
            "VmRSS after the first-page load ({} pages)",
            process.list.tally.ok
        ),
        format!("{:.1} MiB", process.rss_after_list),
        "",
    );
    row(
        "VmHWM (peak RSS) after the first-page load",
        format!("{:.1} MiB", process.hwm_after_list),
        "",
    );

    let loads = [
        &ceiling_m,
        &lookup_m,
        &first_m,
        &last_m,
        &process.lookup,
        &process.list,
    ];
    let failures: u64 = loads.iter().map(|m| m.failures()).sum();
    if failures > 0 {
        return Err(format!("{failures} requests failed or answered wrongly").into());
    }
    if loads.iter().any(|m| m.tally.ok == 0) {
        return Err("a load completed no request in its measured window".into());
    }
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let cfg = Config::from_env()?;
    // The client's runtime: the main thread alone by default, apart from the servers' threads.
    let runtime = if cfg.client_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cfg.client_threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(run(cfg))
}
