//! Command-line flags, each with an environment variable behind it (the flag wins).

use std::path::PathBuf;

/// `--help` text.
pub const HELP: &str = "\
reftrack-collector: receives reftrack signups and serves the SDK and the demo site

USAGE: reftrack-collector [FLAGS]

  --listen ADDR          where to listen [REFTRACK_LISTEN] (default 127.0.0.1:8080)
  --db PATH              SQLite file, created if missing [REFTRACK_DB] (default reftrack.db)
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
    /// The SQLite database file.
    pub db: PathBuf,
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
            db: env("REFTRACK_DB")
                .unwrap_or_else(|| "reftrack.db".into())
                .into(),
            secret: env("REFTRACK_SECRET").filter(|s| !s.is_empty()),
            allow_origins: Vec::new(),
            public_keys: Vec::new(),
            site_url: None,
            cookie_domain: None,
            cookie_days: 90,
            trusted_proxies: 0,
            verified_clicks: false,
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
                "--db" => options.db = value()?.into(),
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
        assert_eq!(o.db, PathBuf::from("reftrack.db"));
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
        assert_eq!(o.db, PathBuf::from("x.db"));
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
