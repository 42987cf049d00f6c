//! The `sipks` command: serve the map server, apply migrations, import boundaries.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use sipks::auth::Role;
use sipks::boundaries::{self, ImportError, ImportOptions, PropertyNames};
use sipks::engine::risk::RiskModel;
use sipks::i18n::Lang;
use sipks::region::RegionLevel;
use sipks::tiles::TileConfig;
use sipks::{db, http, service};

#[derive(Parser)]
#[command(name = "sipks", version, about = "SIPKS map server / server peta SIPKS")]
struct Cli {
    /// PostgreSQL + PostGIS connection URL.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    /// Risk model file (TOML) overriding the defaults.
    #[arg(long, env = "SIPKS_RISK_MODEL", global = true)]
    risk_model: Option<PathBuf>,
    /// Language of messages: id (Bahasa Indonesia) or en.
    #[arg(long, env = "SIPKS_LANG", global = true, default_value = "id", value_parser = parse_lang)]
    lang: Lang,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply the database migrations, then serve HTTP.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "SIPKS_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Size bound of the in-memory tile cache, in MB (0 turns it off).
        #[arg(long, env = "SIPKS_TILE_CACHE_MB", default_value_t = 256)]
        tile_cache_mb: usize,
        /// Zoom from which incidents are drawn one by one in tiles (below it they are
        /// clustered).
        #[arg(long, env = "SIPKS_TILE_CLUSTER_ZOOM", default_value_t = 12,
              value_parser = clap::value_parser!(u8).range(0..=15))]
        tile_cluster_zoom: u8,
        /// Directory of the built web map (web/dist; default: web/dist here, else
        /// beside the checkout the executable was built in).
        #[arg(long, env = "SIPKS_WEB_DIR")]
        web_dir: Option<PathBuf>,
        /// Serve a training database (made by `sipks training seed`); the map shows
        /// "DATA LATIHAN". A training database is refused without it, any other with it.
        #[arg(long, env = "SIPKS_TRAINING", value_parser = clap::builder::BoolishValueParser::new(),
              default_value_t = false)]
        training: bool,
        /// An MBTiles file (vector or raster, e.g. an OpenStreetMap extract built with
        /// planetiler) served at /tiles/basemap and drawn under the risk layers.
        #[arg(long, env = "SIPKS_BASEMAP")]
        basemap: Option<PathBuf>,
        /// Origins allowed to call the API from a browser page of another site (CORS),
        /// comma-separated (`*` for any). Default: none.
        #[arg(long = "cors-origin", env = "SIPKS_CORS_ORIGINS", value_delimiter = ',')]
        cors_origins: Vec<String>,
        /// Seconds a request may take until its response starts (then 503).
        #[arg(long, env = "SIPKS_REQUEST_TIMEOUT", default_value_t = 30,
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        request_timeout: u64,
        /// Seconds a client may take to send a request's headers (then the connection
        /// is closed).
        #[arg(long, env = "SIPKS_HEADER_TIMEOUT", default_value_t = 10,
              value_parser = clap::value_parser!(u64).range(1..=600))]
        header_timeout: u64,
        /// Connections open at once (further ones wait until one closes).
        #[arg(long, env = "SIPKS_MAX_CONNECTIONS", default_value_t = 4096,
              value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        max_connections: u64,
    },
    /// Apply the database migrations that have not been applied yet.
    Migrate,
    /// Administrative boundaries.
    #[command(subcommand)]
    Boundaries(BoundariesCommand),
    /// Incidents.
    #[command(subcommand)]
    Incidents(LoadCommand),
    /// Region-level indicators from other agencies (CSV kode,indicator,value,date).
    #[command(subcommand)]
    Indicators(LoadCommand),
    /// Users of the API and the map (the first nasional user is made here).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Write a layer as a file (as GET /api/export/{layer}, with every incident).
    Export(ExportArgs),
    /// Training mode: a database of its own with synthetic incidents.
    #[command(subcommand)]
    Training(TrainingCommand),
    /// The tile benchmark's anchor (scripts/bench-tiles): the tile files under `dir`
    /// (`{z}/{x}/{y}.mvt`) served from memory by a minimal handler at
    /// `{prefix}/{z}/{x}/{y}`. Needs no database.
    #[command(hide = true)]
    BenchAnchor {
        /// Address to listen on.
        #[arg(long)]
        listen: SocketAddr,
        /// Directory of the tiles.
        #[arg(long)]
        dir: PathBuf,
        /// Path the tiles are served under.
        #[arg(long, default_value = "/tiles/kabupaten_kota")]
        prefix: String,
    },
}

#[derive(Subcommand)]
enum TrainingCommand {
    /// Mark this database as a training database and load synthetic incidents (the
    /// same ones for the same seed). Refused on a database holding real incidents.
    Seed {
        /// About how many incidents.
        #[arg(long, default_value_t = 3000)]
        incidents: u32,
        /// Seed of the pseudo-random sequence.
        #[arg(long, default_value_t = 2025)]
        seed: u32,
    },
}

#[derive(Args)]
struct ExportArgs {
    /// provinsi, kabupaten_kota, kecamatan, incidents, hotspots or clusters.
    layer: String,
    /// geojson, ndjson, csv, fgb or gpkg.
    #[arg(long, default_value = "geojson")]
    format: String,
    /// Only within this region (its subtree), e.g. 73.71.
    #[arg(long)]
    region: Option<String>,
    /// Only features intersecting west,south,east,north (degrees).
    #[arg(long, allow_hyphen_values = true)]
    bbox: Option<String>,
    /// Incidents that occurred from (RFC 3339 or YYYY-MM-DD, midnight WIB).
    #[arg(long)]
    from: Option<String>,
    /// Incidents that occurred before (RFC 3339), or up to the end of that day
    /// (YYYY-MM-DD: the whole day included, WIB).
    #[arg(long)]
    to: Option<String>,
    /// Categories, comma-separated.
    #[arg(long)]
    category: Option<String>,
    /// Statuses, comma-separated.
    #[arg(long)]
    status: Option<String>,
    /// Window in days (risk figures, clusters; incidents: the last days).
    #[arg(long)]
    window: Option<String>,
    /// Write here instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Make a user. The password is read from SIPKS_PASSWORD or, else, from the first
    /// line of standard input (never a default).
    Add {
        /// Login name (lower case letters, digits, '.', '_' and '-').
        username: String,
        /// nasional, provinsi, kabupaten_kota or analis.
        #[arg(long)]
        role: String,
        /// The region of a provinsi or kabupaten_kota user, e.g. 73.71.
        #[arg(long)]
        kode: Option<String>,
        /// Full name.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List the users.
    List,
    /// Stop a user from logging in and revoke their tokens.
    Disable {
        /// Login name.
        username: String,
    },
}

#[derive(Subcommand)]
enum LoadCommand {
    /// Load a file in one transaction: incidents as CSV (lon, lat, occurred_at,
    /// category, severity, status, source, description, id, kode) or GeoJSON;
    /// indicators as CSV.
    Import {
        /// The file.
        file: PathBuf,
        /// Load the good rows even when some are rejected (default: all or nothing).
        #[arg(long)]
        partial: bool,
    },
}

#[derive(Subcommand)]
enum BoundariesCommand {
    /// Import boundary files (wilayah_boundaries SQL dumps or GeoJSON) or directories
    /// of them, in one transaction.
    Import(ImportArgs),
}

#[derive(Args)]
struct ImportArgs {
    /// Files or directories (searched recursively for *.sql, *.geojson, *.json).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Do nothing when regions are already stored (for start-up scripts).
    #[arg(long)]
    if_empty: bool,
    /// GeoJSON property holding the region code.
    #[arg(long, default_value = "kode")]
    code_property: String,
    /// GeoJSON property holding the name.
    #[arg(long, default_value = "nama")]
    name_property: String,
    /// GeoJSON property holding the level.
    #[arg(long, default_value = "level")]
    level_property: String,
    /// GeoJSON property holding the parent code.
    #[arg(long, default_value = "induk")]
    parent_property: String,
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::from_tag(s).ok_or_else(|| format!("unknown language {s:?} (id or en)"))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::BenchAnchor { listen, dir, prefix } = &cli.command {
        return http::anchor::serve(dir, prefix, *listen).await.context("anchor failed");
    }
    let url = cli.database_url.as_deref().context("no database: set DATABASE_URL or pass --database-url")?;
    let pool = db::connect(url, 32).await.context("cannot connect to the database")?;
    db::migrate(&pool).await.context("cannot apply the migrations")?;
    match cli.command {
        Command::Migrate => {
            eprintln!("{}", cli.lang.pick("Migrasi basis data sudah diterapkan.", "Database migrations applied."));
        }
        Command::Serve {
            listen,
            tile_cache_mb,
            tile_cluster_zoom,
            web_dir,
            training,
            basemap,
            cors_origins,
            request_timeout,
            header_timeout,
            max_connections,
        } => {
            sipks::training::check_mode(&pool, training).await?;
            let model = match &cli.risk_model {
                Some(path) => RiskModel::from_file(path)?,
                None => RiskModel::default(),
            };
            let started = std::time::Instant::now();
            let engine = service::load_engine(&pool, model).await.context("cannot build the engine")?;
            tracing::info!(
                regions = engine.index().len(),
                incidents = engine.incidents().len(),
                seconds = started.elapsed().as_secs_f64(),
                "engine ready"
            );
            let tiles = TileConfig { cache_bytes: tile_cache_mb << 20, cluster_zoom: tile_cluster_zoom };
            let mut state = http::AppState::with_tiles(pool, engine, tiles);
            let basemap = match &basemap {
                Some(path) => Some(std::sync::Arc::new(http::basemap::Basemap::open(path).await?)),
                None => None,
            };
            let web = http::web::WebConfig { dir: http::web::WebConfig::locate(web_dir), training, basemap };
            if !web.dir.join("index.html").is_file() {
                tracing::warn!(dir = %web.dir.display(), "the web map is not built (npm ci && npm run build in web/)");
            }
            state.web = std::sync::Arc::new(web);
            state.http = std::sync::Arc::new(http::HttpConfig {
                cors_origins: cors_origins.into_iter().map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect(),
                request_timeout: std::time::Duration::from_secs(request_timeout),
                header_timeout: std::time::Duration::from_secs(header_timeout),
                max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
            });
            http::serve(state, listen).await.context("server failed")?;
        }
        Command::Boundaries(BoundariesCommand::Import(args)) => import(&pool, args, cli.lang).await?,
        Command::Incidents(LoadCommand::Import { file, partial }) => {
            let index = service::build_index(&pool).await?;
            let report = service::import_incidents(&pool, &index, &file, partial).await;
            print_load(report, cli.lang)?;
        }
        Command::Indicators(LoadCommand::Import { file, .. }) => {
            print_load(service::import_indicators(&pool, &file).await, cli.lang)?;
        }
        Command::Users(command) => users(&pool, command, cli.lang).await?,
        Command::Export(args) => export(&pool, args, cli.risk_model.as_deref()).await?,
        // Served above, before connecting to a database.
        Command::BenchAnchor { .. } => {}
        Command::Training(TrainingCommand::Seed { incidents, seed }) => {
            let report = sipks::training::seed(&pool, incidents, seed).await?;
            print_load(Ok(report), cli.lang)?;
        }
    }
    Ok(())
}

fn print_load(report: Result<service::LoadReport, service::LoadError>, lang: Lang) -> anyhow::Result<()> {
    match report {
        Ok(report) => {
            println!(
                "{} {}, {} {}, {} {}",
                lang.pick("Diterima:", "Accepted:"),
                report.accepted,
                lang.pick("disimpan:", "stored:"),
                report.inserted,
                lang.pick("di laut (12 mil laut):", "at sea (12 nautical miles):"),
                report.at_sea
            );
            for row in &report.rejected {
                println!("  {} {row}", lang.pick("ditolak:", "rejected:"));
            }
            Ok(())
        }
        Err(service::LoadError::Rejected(rows)) => {
            for row in &rows {
                println!("  {} {row}", lang.pick("ditolak:", "rejected:"));
            }
            anyhow::bail!(
                "{} {} ({})",
                rows.len(),
                lang.pick("baris ditolak; tidak ada yang dimuat", "row(s) rejected; nothing loaded"),
                lang.pick("--partial memuat baris yang baik", "--partial loads the good rows")
            )
        }
        Err(e) => Err(e.into()),
    }
}

async fn import(pool: &sqlx::PgPool, args: ImportArgs, lang: Lang) -> anyhow::Result<()> {
    if args.if_empty {
        let stored: i64 = db::regions::count_by_level(pool).await?.iter().map(|(_, n)| n).sum();
        if stored > 0 {
            eprintln!(
                "{} ({stored})",
                lang.pick("Batas wilayah sudah ada; impor dilewati", "Boundaries already stored; import skipped")
            );
            return Ok(());
        }
    }
    let options = ImportOptions {
        properties: PropertyNames {
            code: args.code_property,
            name: args.name_property,
            level: args.level_property,
            parent: args.parent_property,
        },
        progress: std::io::stderr().is_terminal(),
    };
    match boundaries::import(pool, &args.paths, &options).await {
        Ok(report) => {
            print!("{}", report.render(lang));
            Ok(())
        }
        Err(ImportError::Rejected(rejections)) => {
            println!("{} {}", lang.pick("Ditolak:", "Rejected:"), rejections.len());
            for rejection in &rejections {
                println!("  {rejection}");
            }
            anyhow::bail!(
                "{}",
                lang.pick("impor dibatalkan; basis data tidak berubah", "import aborted; the database is unchanged")
            )
        }
        Err(e) => Err(anyhow::Error::new(e).context(
            lang.pick("impor dibatalkan; basis data tidak berubah", "import aborted; the database is unchanged"),
        )),
    }
}

async fn users(pool: &sqlx::PgPool, command: UsersCommand, lang: Lang) -> anyhow::Result<()> {
    match command {
        UsersCommand::Add { username, role, kode, name } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let region = kode.map(|k| k.parse::<sipks::region::RegionCode>()).transpose()?;
            match (role.is_regional(), &region) {
                (true, None) => anyhow::bail!("a {role} user needs --kode (the region they work in)"),
                (false, Some(_)) => anyhow::bail!("a {role} user works nationally: leave out --kode"),
                _ => {}
            }
            if let Some(code) = &region {
                let expected = if role == Role::Provinsi { RegionLevel::Provinsi } else { RegionLevel::KabupatenKota };
                anyhow::ensure!(
                    code.level() == expected,
                    "a {role} user needs a {} code, not {code}",
                    expected.as_str()
                );
                anyhow::ensure!(
                    db::regions::exists(pool, code).await?,
                    "no region has code {code} (import the boundaries first)"
                );
            }
            let password = match std::env::var("SIPKS_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            anyhow::ensure!(
                password.chars().count() >= sipks::auth::MIN_PASSWORD_CHARS,
                "the password needs at least {} characters",
                sipks::auth::MIN_PASSWORD_CHARS
            );
            let hash = sipks::auth::hash_password(&password).map_err(|e| anyhow::anyhow!("cannot hash: {e}"))?;
            match db::users::create(pool, &username, &name, &hash, role, region.as_ref()).await {
                Ok(id) => eprintln!(
                    "{}",
                    lang.pick(
                        &format!("Pengguna {username} ({role}) dibuat, id {id}."),
                        &format!("User {username} ({role}) made, id {id}.")
                    )
                ),
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    anyhow::bail!("user {username} already exists")
                }
                Err(sqlx::Error::Database(e)) if e.is_check_violation() => {
                    anyhow::bail!(
                        "user name {username:?} is not allowed: 3-64 lower case letters, digits, '.', '_', '-'"
                    )
                }
                Err(e) => return Err(e.into()),
            }
        }
        UsersCommand::List => {
            for user in db::users::list(pool).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    user.caller.username,
                    user.caller.role,
                    user.caller.region.as_ref().map_or("-", |r| r.as_str()),
                    if user.disabled { "disabled" } else { "active" },
                    user.full_name
                );
            }
        }
        UsersCommand::Disable { username } => {
            anyhow::ensure!(db::users::set_disabled(pool, &username, true).await?, "no user {username}");
            eprintln!(
                "{}",
                lang.pick(
                    &format!("Pengguna {username} dinonaktifkan; tokennya dicabut."),
                    &format!("User {username} disabled; their tokens are revoked.")
                )
            );
        }
    }
    Ok(())
}

async fn export(pool: &sqlx::PgPool, args: ExportArgs, risk_model: Option<&std::path::Path>) -> anyhow::Result<()> {
    use sipks::export::{self, FilterText, Format, Layer, Sources};
    let layer = Layer::parse(&args.layer)?;
    let format = Format::parse(&args.format)?;
    let text = FilterText {
        region: args.region,
        bbox: args.bbox,
        from: args.from,
        to: args.to,
        category: args.category,
        status: args.status,
        window: args.window,
    };
    let filter = text.parse()?;
    filter.check_for(layer)?;
    export::check_region(pool, &filter).await?;
    let engine = if layer == Layer::Incidents {
        None
    } else {
        let model = risk_model.map(RiskModel::from_file).transpose()?.unwrap_or_default();
        let engine = service::load_engine(pool, model).await.context("cannot build the engine")?;
        Some(std::sync::Arc::new(std::sync::RwLock::new(engine)))
    };
    let sources = Sources { pool: pool.clone(), engine, scope: sipks::auth::Scope::Everything };
    let out: Box<dyn std::io::Write + Send> = match &args.output {
        Some(path) => {
            Box::new(std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?)
        }
        None => Box::new(std::io::stdout()),
    };
    let written = export::to_writer(&sources, layer, format, &filter, out).await;
    if written.is_err() {
        if let Some(path) = &args.output {
            let _ = std::fs::remove_file(path);
        }
    }
    let features = written?;
    eprintln!("{features} features");
    Ok(())
}
