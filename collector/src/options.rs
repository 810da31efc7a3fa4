//! Command-line flags, each with an environment variable behind it (the flag wins).

use crate::db::Target;
use std::path::PathBuf;

/// `--help` text.
pub const HELP: &str = "\
reftrack-collector: receives reftrack signups and serves the SDK and the demo site

USAGE: reftrack-collector [FLAGS]

  --listen ADDR          where to listen [REFTRACK_LISTEN] (default 127.0.0.1:8080)
  --db PATH|URL          an SQLite file, created if missing, or a PostgreSQL URL
                         (postgres://user:password@host:port/database) that several
                         collectors share [REFTRACK_DB] (default reftrack.db)
  --secret TOKEN         bearer token for the authenticated routes [REFTRACK_SECRET]
  --allow-origin ORIGIN  origin allowed to post signups; repeatable (default: any)
  --public-key KEY       a program whose signups are taken; repeatable (default: any)
  --site-url URL         the site partner links lead to by default (default: the first
                         --allow-origin); with --allow-origin, the origins they may lead to
  --cookie-domain D      partner links also set the attribution cookies on D (only when the
                         collector is reached through the site's own domain, see the README)
  --cookie-days N        lifetime of those cookies (default 90)
  --trusted-proxies N    how many rightmost X-Forwarded-For hops are the site's own proxies
                         (default 0: the socket address is the client)
  --verified-clicks      credit a partner only through a recorded click of its link
  --rate-limit N         requests per second per client address on POST /v1/signups and
                         /r/..., with a burst of 5 seconds' worth; 0: no limit (default 20)
  --max-connections N    connections served at once; more wait to be accepted (default 1024,
                         lowered to fit the open-file limit)
  --request-timeout N    seconds a request's headers, and then its body, may take to arrive;
                         a connection idle that long is closed (default 10)
  --drain-seconds N      on SIGTERM, how long requests in flight may take to finish (default 10)
  --clock FILE           for tests: read the time (ms since the epoch) from FILE
  --dist DIR             served at /sdk/ (default dist)
  --www DIR              served at / (default www)
  --help                 this text
";

/// The collector's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Socket address to listen on.
    pub listen: String,
    /// The database: an SQLite file or a PostgreSQL URL.
    pub db: Target,
    /// Bearer token for the authenticated routes; `None` means they answer 401.
    pub secret: Option<String>,
    /// Origins allowed to post signups; empty means any.
    pub allow_origins: Vec<String>,
    /// Programs whose signups are taken; empty means any.
    pub public_keys: Vec<String>,
    /// Where partner links lead by default.
    pub site_url: Option<String>,
    /// The domain partner-link redirects set the attribution cookies on.
    pub cookie_domain: Option<String>,
    /// Lifetime of those cookies, in days.
    pub cookie_days: u32,
    /// How many rightmost `X-Forwarded-For` hops are the site's own proxies.
    pub trusted_proxies: usize,
    /// Credit partners only through recorded clicks.
    pub verified_clicks: bool,
    /// Requests per second per address on the public routes; 0: no limit.
    pub rate_limit: u32,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long SIGTERM waits for requests in flight.
    pub drain_seconds: u64,
    /// Deadline for a request's headers, then for its body; also the idle limit.
    pub request_timeout: u64,
    /// A file holding the time, for tests.
    pub clock: Option<PathBuf>,
    /// Directory served at `/sdk/`.
    pub dist: PathBuf,
    /// Directory served at `/`.
    pub www: PathBuf,
}

impl Options {
    /// Parses flags over the environment (`env` looks a variable up). `Ok(None)`: `--help`.
    pub fn from_args_and_env(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Options>, String> {
        let mut options = Options {
            listen: env("REFTRACK_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into()),
            db: Target::parse(&env("REFTRACK_DB").unwrap_or_else(|| "reftrack.db".into())),
            secret: env("REFTRACK_SECRET").filter(|s| !s.is_empty()),
            allow_origins: Vec::new(),
            public_keys: Vec::new(),
            site_url: None,
            cookie_domain: None,
            cookie_days: 90,
            trusted_proxies: 0,
            verified_clicks: false,
            rate_limit: 20,
            max_connections: 1024,
            drain_seconds: 10,
            request_timeout: 10,
            clock: None,
            dist: "dist".into(),
            www: "www".into(),
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => {
                    (flag.to_owned(), Some(value.to_owned()))
                }
                _ => (arg.clone(), None),
            };
            if flag == "--help" || flag == "-h" {
                return Ok(None);
            }
            if flag == "--verified-clicks" {
                options.verified_clicks = true;
                continue;
            }
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--listen" => options.listen = value()?,
                "--db" => options.db = Target::parse(&value()?),
                "--secret" => options.secret = Some(value()?).filter(|s| !s.is_empty()),
                "--allow-origin" => options
                    .allow_origins
                    .push(value()?.trim_end_matches('/').to_owned()),
                "--public-key" => {
                    let key = value()?;
                    if !reftrack::core::config::is_public_key(&key) {
                        return Err(format!(
                            "--public-key {key}: expected {}",
                            reftrack::core::config::PUBLIC_KEY_RULE
                        ));
                    }
                    options.public_keys.push(key);
                }
                "--site-url" => {
                    let url = value()?;
                    if url::Url::parse(&url)
                        .map_or(true, |u| !matches!(u.scheme(), "http" | "https"))
                    {
                        return Err(format!("--site-url {url}: expected an http(s) URL"));
                    }
                    options.site_url = Some(url);
                }
                "--cookie-domain" => {
                    options.cookie_domain = Some(value()?.trim_start_matches('.').to_owned())
                }
                "--cookie-days" => {
                    options.cookie_days = value()?
                        .parse()
                        .ok()
                        .filter(|d| (1..=400).contains(d))
                        .ok_or("--cookie-days: expected a whole number from 1 to 400")?
                }
                "--trusted-proxies" => {
                    options.trusted_proxies = value()?
                        .parse()
                        .map_err(|_| "--trusted-proxies: expected a whole number")?
                }
                "--rate-limit" => {
                    options.rate_limit = value()?
                        .parse()
                        .map_err(|_| "--rate-limit: expected a whole number (0: no limit)")?
                }
                "--max-connections" => {
                    options.max_connections = value()?
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or("--max-connections: expected a whole number above 0")?
                }
                "--drain-seconds" => {
                    options.drain_seconds = value()?
                        .parse()
                        .map_err(|_| "--drain-seconds: expected a whole number")?
                }
                "--request-timeout" => {
                    options.request_timeout = value()?
                        .parse()
                        .ok()
                        .filter(|n| (1..=600).contains(n))
                        .ok_or("--request-timeout: expected a whole number of seconds, 1-600")?
                }
                "--clock" => options.clock = Some(value()?.into()),
                "--dist" => options.dist = value()?.into(),
                "--www" => options.www = value()?.into(),
                _ => return Err(format!("unknown flag {arg}")),
            }
        }
        if options.site_url.is_none() {
            options.site_url = options.allow_origins.first().map(|o| format!("{o}/"));
        }
        Ok(Some(options))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Option<Options>, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Options::from_args_and_env(args.iter().map(|s| s.to_string()), move |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults() {
        let o = parse(&[], &[]).unwrap().unwrap();
        assert_eq!(o.listen, "127.0.0.1:8080");
        assert_eq!(o.db, Target::Sqlite("reftrack.db".into()));
        assert_eq!(o.secret, None);
        assert!(o.allow_origins.is_empty());
        assert_eq!(
            (o.dist, o.www),
            (PathBuf::from("dist"), PathBuf::from("www"))
        );
    }

    #[test]
    fn flags_beat_environment() {
        let env = [
            ("REFTRACK_LISTEN", "127.0.0.1:9000"),
            ("REFTRACK_SECRET", "s1"),
            ("REFTRACK_DB", "e.db"),
        ];
        let o = parse(&[], &env).unwrap().unwrap();
        assert_eq!(
            (o.listen.as_str(), o.secret.as_deref()),
            ("127.0.0.1:9000", Some("s1"))
        );
        let o = parse(
            &[
                "--listen",
                "127.0.0.1:0",
                "--secret=s2",
                "--allow-origin",
                "http://a.test/",
                "--allow-origin=http://b.test",
                "--db",
                "x.db",
            ],
            &env,
        )
        .unwrap()
        .unwrap();
        assert_eq!(o.listen, "127.0.0.1:0");
        assert_eq!(o.secret.as_deref(), Some("s2"));
        assert_eq!(o.allow_origins, ["http://a.test", "http://b.test"]);
        assert_eq!(o.db, Target::Sqlite("x.db".into()));
        let o = parse(&["--db", "postgres://u@h/d", "--rate-limit", "0"], &[])
            .unwrap()
            .unwrap();
        assert_eq!(
            (o.db, o.rate_limit),
            (Target::Postgres("postgres://u@h/d".into()), 0)
        );
    }

    #[test]
    fn mistakes_are_explained() {
        assert_eq!(
            parse(&["--listen"], &[]),
            Err("--listen needs a value".into())
        );
        assert_eq!(parse(&["--bogus"], &[]), Err("unknown flag --bogus".into()));
        assert_eq!(
            parse(&["--public-key", "pk_a", "--public-key=pk_b"], &[])
                .unwrap()
                .unwrap()
                .public_keys,
            ["pk_a", "pk_b"]
        );
        assert_eq!(
            parse(&["--public-key", "pk <b>"], &[]),
            Err(
                "--public-key pk <b>: expected a public key: 1-128 characters of A-Z a-z 0-9 _ - ."
                    .into()
            )
        );
        assert_eq!(parse(&["--help"], &[]), Ok(None));
    }
}
